using System.Globalization;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using QuantNative.Cpu;
using QuantNative.Formats;
using QuantNative.Formats.Gptq;
using QuantNative.Model;
using QuantNative.Model.Quantized;
using QuantNative.Quantization.Learned.Lwc;

namespace QuantNative.Quantization.Learned;

/// <summary>
/// Resume state of the OmniQuant loop: after each block, the committed block goes to block-i.bin and then the rest
/// (next block, per-layer reports, losses, X_q, X_fp) to state.bin, each written to a temporary name and renamed, so
/// a run killed at any point leaves the last finished block's state intact. The window shuffle needs no saved
/// generator state (<see cref="BackendBlockTraining.ShuffleSeed"/> derives it from seed, block and epoch), and the saved
/// activations are the exact float bits, so a resumed run computes exactly what an uninterrupted one does.
/// fingerprint.txt names the model and every setting that changes the result; a work directory with another
/// fingerprint is refused, never silently reused or replaced.
/// </summary>
public sealed class LearnedWorkDirectory(string path, string fingerprint)
{
    private const string FingerprintFile = "fingerprint.txt", StateFile = "state.bin";
    private const int Magic = 0x514E4F51; // "QONQ"

    public string Path { get; } = path;
    public string FingerprintText { get; } = fingerprint;

    /// <summary>
    /// The identity of a run: the model (its path, format, config, tensor list, and SHA-256 of the token embedding and
    /// final norm; the blocks are not hashed, which would read the whole model before starting), the calibration
    /// windows (SHA-256 of the token ids), the quantizer, format, epochs, learning rate, seed.
    /// </summary>
    public static string Fingerprint(IModelSource source, float[] embedding, int[][] windows, QuantizerConfig quantizer,
        GptqCheckpointFormat format, LearnedOptions options, int epochs)
    {
        var inv = CultureInfo.InvariantCulture;
        var list = string.Join("\n", source.Tensors.Select(t => $"{t.Name} {t.DType} [{string.Join(",", t.Shape)}]"));
        using var ids = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var w in windows) ids.AppendData(MemoryMarshal.AsBytes(w.AsSpan()));
        return string.Join("\n",
            $"model {System.IO.Path.GetFullPath(source.Path)} ({source.Format})",
            $"config {source.Config}",
            $"tensors sha256 {Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(list)))}",
            $"embedding sha256 {Convert.ToHexString(SHA256.HashData(MemoryMarshal.AsBytes(embedding.AsSpan())))}",
            $"final norm sha256 {Convert.ToHexString(SHA256.HashData(MemoryMarshal.AsBytes(source.LoadFinalNorm().AsSpan())))}",
            $"calibration {windows.Length} windows × {windows[0].Length} tokens, sha256 {Convert.ToHexString(ids.GetHashAndReset())}",
            $"quantizer {quantizer}",
            $"format {format}",
            $"epochs {epochs}",
            $"lwc-lr {options.LearningRate.ToString("R", inv)}",
            $"seed {options.Seed}",
            $"cqe {options.Cqe?.Describe() ?? "off"}",
            // Another device computes the same steps within float rounding, not bit for bit: a resume must not mix them.
            $"device {options.Backend?.Kind.ToString().ToLowerInvariant() ?? "cpu"}") + "\n";
    }

    public sealed record State(int NextBlock, QuantizedBlock[] Blocks, IReadOnlyList<LayerReport> Layers,
        IReadOnlyList<BlockLoss> Losses, float[][] Xq, float[][] Xfp);

    /// <summary>The saved state, or null when there is none yet. Throws when the directory belongs to another run.</summary>
    public State? TryLoad(LlamaConfig c, QuantizerConfig quantizer, GptqCheckpointFormat format)
    {
        string fp = System.IO.Path.Combine(Path, FingerprintFile), state = System.IO.Path.Combine(Path, StateFile);
        if (!Directory.Exists(Path)) return null;
        if (File.Exists(fp))
        {
            var theirs = File.ReadAllText(fp).Split('\n');
            var ours = FingerprintText.Split('\n');
            var differs = ours.Zip(theirs).Where(p => p.First != p.Second).ToList();
            if (differs.Count > 0 || theirs.Length != ours.Length)
                throw new QuantNativeException(
                    $"--out: the work directory {Path} was left by a run with another model or other settings, so it " +
                    "cannot be resumed (" + string.Join("; ", differs.Select(p => $"it has '{p.Second}', this run '{p.First}'")) +
                    "); delete it to start over, or rerun the command that made it");
        }
        else if (File.Exists(state))
            throw new QuantNativeException($"--out: the work directory {Path} has no {FingerprintFile}, so it cannot be " +
                                           "known to belong to this run; delete it to start over");
        if (!File.Exists(state)) return null;

        using var r = new BinaryReader(File.OpenRead(state));
        if (r.ReadInt32() != Magic) throw new QuantNativeException($"{state}: not an OmniQuant state file; delete {Path}");
        int next = r.ReadInt32();
        var layers = new List<LayerReport>();
        for (int i = r.ReadInt32(); i > 0; i--)
            layers.Add(new LayerReport(r.ReadString(), r.ReadInt32(), r.ReadInt32(), r.ReadDouble(), r.ReadDouble(),
                r.ReadInt32(), r.ReadInt32(), r.ReadInt32(), r.ReadBoolean() ? r.ReadString() : null));
        var losses = new List<BlockLoss>();
        for (int i = r.ReadInt32(); i > 0; i--)
            losses.Add(new BlockLoss(r.ReadInt32(), r.ReadDouble(), r.ReadDouble(), r.ReadDouble(), r.ReadDouble(),
                r.ReadDouble(), r.ReadDouble()));
        var xq = ReadWindows(r);
        var xfp = ReadWindows(r);
        var blocks = new QuantizedBlock[c.NumLayers];
        for (int b = 0; b < next; b++) blocks[b] = ReadBlock(BlockFile(b), quantizer, c);
        return new State(next, blocks, layers, losses, xq, xfp);
    }

    /// <summary>Saves the state after block <paramref name="nextBlock"/> − 1 was committed.</summary>
    public void Save(int nextBlock, QuantizedBlock[] blocks, IReadOnlyList<LayerReport> layers,
        IReadOnlyList<BlockLoss> losses, float[][] xq, float[][] xfp)
    {
        Create();
        WriteAtomically(BlockFile(nextBlock - 1), w => WriteBlock(w, blocks[nextBlock - 1]));
        WriteAtomically(System.IO.Path.Combine(Path, StateFile), w =>
        {
            w.Write(Magic);
            w.Write(nextBlock);
            w.Write(layers.Count);
            foreach (var l in layers)
            {
                w.Write(l.Name); w.Write(l.Rows); w.Write(l.Columns); w.Write(l.RelativeError); w.Write(l.Seconds);
                w.Write(l.ClampedGroups); w.Write(l.ClippedCodes); w.Write(l.DeadColumns);
                w.Write(l.GroupNote != null);
                if (l.GroupNote != null) w.Write(l.GroupNote);
            }
            w.Write(losses.Count);
            foreach (var b in losses)
            {
                w.Write(b.Block); w.Write(b.Initial); w.Write(b.Final); w.Write(b.FirstEpoch); w.Write(b.LastEpoch);
                w.Write(b.Seconds); w.Write(b.SecondsPerEpoch);
            }
            WriteWindows(w, xq);
            WriteWindows(w, xfp);
        });
    }

    /// <summary>Saves block <paramref name="block"/>'s learned clipping parameters (before <see cref="Save"/> marks
    /// the block finished), so a resumed run still leaves every block's in its result.</summary>
    public void SaveClipping(int block, IReadOnlyList<LwcLinear> linears)
    {
        Create();
        WriteAtomically(ClippingFile(block), w =>
        {
            w.Write(linears.Count);
            foreach (var l in linears)
            {
                w.Write(l.Name);
                WriteFloats(w, l.U.Value);
                WriteFloats(w, l.L.Value);
            }
        });
    }

    public void LoadClipping(int block, ClippingParameters into)
    {
        using var r = new BinaryReader(File.OpenRead(ClippingFile(block)));
        for (int i = r.ReadInt32(); i > 0; i--) into.Add(r.ReadString(), ReadFloats(r), ReadFloats(r));
    }

    /// <summary>Caches block <paramref name="block"/>'s SVD factors (one per linear, in <see cref="BlockLinears.All"/>
    /// order), so a run resumed in the middle of that block does not recompute them.</summary>
    public void SaveFactors(int block, IReadOnlyList<SvdFactors> factors)
    {
        Create();
        WriteAtomically(FactorsFile(block), w =>
        {
            w.Write(factors.Count);
            foreach (var f in factors)
            {
                w.Write(f.Rows); w.Write(f.Cols); w.Write(f.Rank);
                WriteFloats(w, f.Ut); WriteFloats(w, f.S); WriteFloats(w, f.Vt);
            }
        });
    }

    /// <summary>The cached SVD factors of block <paramref name="block"/>, or null when they were not computed yet.</summary>
    public SvdFactors[]? LoadFactors(int block)
    {
        string file = FactorsFile(block);
        if (!File.Exists(file)) return null;
        using var r = new BinaryReader(File.OpenRead(file));
        var factors = new SvdFactors[r.ReadInt32()];
        for (int i = 0; i < factors.Length; i++)
            factors[i] = new SvdFactors(r.ReadInt32(), r.ReadInt32(), r.ReadInt32(), ReadFloats(r), ReadFloats(r), ReadFloats(r));
        return factors;
    }

    /// <summary>The directory with its fingerprint, written first so no state file ever sits without it.</summary>
    private void Create()
    {
        Directory.CreateDirectory(Path);
        string fp = System.IO.Path.Combine(Path, FingerprintFile);
        if (!File.Exists(fp)) WriteAtomically(fp, w => w.Write(Encoding.UTF8.GetBytes(FingerprintText)));
    }

    /// <summary>Removes the work directory (after the output was written).</summary>
    public void Delete()
    {
        if (Directory.Exists(Path)) Directory.Delete(Path, true);
    }

    private string BlockFile(int block) => System.IO.Path.Combine(Path, $"block-{block}.bin");
    private string ClippingFile(int block) => System.IO.Path.Combine(Path, $"clipping-{block}.bin");
    private string FactorsFile(int block) => System.IO.Path.Combine(Path, $"svd-{block}.bin");

    private static void WriteAtomically(string file, Action<BinaryWriter> write)
    {
        string temp = file + ".partial";
        using (var stream = File.Create(temp))
        using (var w = new BinaryWriter(stream))
        {
            write(w);
            w.Flush();
            stream.Flush(flushToDisk: true);
        }
        File.Move(temp, file, overwrite: true);
    }

    private static void WriteWindows(BinaryWriter w, float[][] windows)
    {
        w.Write(windows.Length);
        foreach (var x in windows)
        {
            w.Write(x.Length);
            w.Write(MemoryMarshal.AsBytes(x.AsSpan()));
        }
    }

    private static float[][] ReadWindows(BinaryReader r)
    {
        var windows = new float[r.ReadInt32()][];
        for (int k = 0; k < windows.Length; k++)
        {
            windows[k] = new float[r.ReadInt32()];
            r.BaseStream.ReadExactly(MemoryMarshal.AsBytes(windows[k].AsSpan()));
        }
        return windows;
    }

    private static void WriteBlock(BinaryWriter w, QuantizedBlock b)
    {
        WriteFloats(w, b.AttnNorm);
        WriteFloats(w, b.FfnNorm);
        foreach (var (_, extra) in b.Extras.Present()) WriteFloats(w, extra);
        foreach (var linear in BlockLinears.All)
        {
            var m = b.Linears[linear.Part];
            w.Write(m.Rows); w.Write(m.Columns);
            w.Write(m.Codes);
            w.Write(MemoryMarshal.AsBytes(m.Scales.AsSpan()));
            w.Write(MemoryMarshal.AsBytes(m.Zeros.AsSpan()));
        }
    }

    private static QuantizedBlock ReadBlock(string file, QuantizerConfig quantizer, LlamaConfig c)
    {
        using var r = new BinaryReader(File.OpenRead(file));
        var attn = ReadFloats(r);
        var ffn = ReadFloats(r);
        var extras = BlockExtraParts.Load(c, part =>
        {
            var a = ReadFloats(r);
            if (a.Length != part.Length(c))
                throw new QuantNativeException($"{file}: {part.Part} has {a.Length} values, expected {part.Length(c)}");
            return a;
        });
        var linears = new Dictionary<string, QuantizedMatrix>();
        foreach (var linear in BlockLinears.All)
        {
            int rows = r.ReadInt32(), columns = r.ReadInt32();
            var (er, ec) = linear.Shape(c);
            if (rows != er || columns != ec)
                throw new QuantNativeException($"{file}: {linear.Part} is [{rows}, {columns}], expected [{er}, {ec}]");
            var layout = quantizer.Layout(columns);
            var codes = r.ReadBytes(rows * columns);
            var scales = new float[rows * layout.Groups];
            r.BaseStream.ReadExactly(MemoryMarshal.AsBytes(scales.AsSpan()));
            var zeros = new int[rows * layout.Groups];
            r.BaseStream.ReadExactly(MemoryMarshal.AsBytes(zeros.AsSpan()));
            linears[linear.Part] = new QuantizedMatrix(rows, columns, quantizer, codes, scales, zeros,
                QuantizedMatrix.NaturalGroupIndex(layout), $"{file} {linear.Part}");
        }
        return new QuantizedBlock { AttnNorm = attn, FfnNorm = ffn, Extras = extras, Linears = linears };
    }

    private static void WriteFloats(BinaryWriter w, float[] a)
    {
        w.Write(a.Length);
        w.Write(MemoryMarshal.AsBytes(a.AsSpan()));
    }

    private static float[] ReadFloats(BinaryReader r)
    {
        var a = new float[r.ReadInt32()];
        r.BaseStream.ReadExactly(MemoryMarshal.AsBytes(a.AsSpan()));
        return a;
    }
}
