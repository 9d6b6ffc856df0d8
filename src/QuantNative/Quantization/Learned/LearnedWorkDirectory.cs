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
/// fingerprint is refused, never silently reused or replaced. Every other file ends with its SHA-256 and is verified
/// before a resume reads it (<see cref="WorkFile"/>); a damaged or missing one is an error that says how to start over.
/// One run at a time holds the directory (<see cref="WorkDirectoryLock"/>, taken by the caller).
/// </summary>
public sealed class LearnedWorkDirectory(string path, string fingerprint)
{
    private const string FingerprintFile = "fingerprint.txt", StateFile = "state.bin";
    // "QNQ3": block files end with the K-quant fit's inputs (W', ranges, importance) when the run keeps them; earlier
    // versions' "QNQ2"/"QONQ" states are refused as damaged (their blocks lack that section).
    private const int Magic = 0x33514E51;

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
            $"lwc-lr {options.LearningRate.ToString("R", inv)}{(options.SearchInit ? ", init by search" : "")}",
            $"seed {options.Seed}",
            $"cqe {options.Cqe?.Describe() ?? "off"}",
            // A K-quant GGUF is fitted to each block's W', ranges and input energy: a resume must find them saved.
            $"kept for a K-quant fit {(options.KeepLearnedWeights ? "W', ranges, input energy" : "nothing")}",
            // Another device computes the same steps within float rounding, not bit for bit: a resume must not mix them.
            $"device {options.Backend?.Kind.ToString().ToLowerInvariant() ?? "cpu"}") + "\n";
    }

    /// <summary>A saved state; the finished blocks are read one at a time by <see cref="LoadBlock"/> (with W' each
    /// holds an fp32 copy of its weights, so all at once would be the whole model in fp32).</summary>
    public sealed record State(int NextBlock, Func<int, QuantizedBlock> LoadBlock, IReadOnlyList<LayerReport> Layers,
        IReadOnlyList<BlockLoss> Losses, float[][] Xq, float[][] Xfp);

    /// <summary>
    /// The saved state, or null when there is none yet. Throws when the directory belongs to another run, and when a
    /// file is damaged or missing (checked against its checksum before it is read), naming the file and how to start
    /// over. <paramref name="windows"/> and <paramref name="windowLength"/> are this run's, which the saved
    /// activations must match.
    /// </summary>
    public State? TryLoad(LlamaConfig c, QuantizerConfig quantizer, GptqCheckpointFormat format, int windows = -1,
        int windowLength = -1)
    {
        string fp = System.IO.Path.Combine(Path, FingerprintFile), state = System.IO.Path.Combine(Path, StateFile);
        if (!Directory.Exists(Path)) return null;
        if (File.Exists(fp))
        {
            var theirs = ReadText(fp).Split('\n');
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

        int next;
        var layers = new List<LayerReport>();
        var losses = new List<BlockLoss>();
        float[][] xq, xfp;
        using (var r = WorkFile.OpenVerified(state, Path, "missing"))
        {
            if (r.Int32() != Magic) throw r.Damaged("not an OmniQuant state file of this qn version");
            next = r.Int32();
            if (next < 1 || next > c.NumLayers)
                throw r.Damaged($"it records {next} finished blocks of a {c.NumLayers}-block model");
            for (int i = r.Count(1, "layer report"); i > 0; i--)
                layers.Add(new LayerReport(r.String(), r.Int32(), r.Int32(), r.Double(), r.Double(),
                    r.Int32(), r.Int32(), r.Int32(), r.Bool() ? r.String() : null));
            for (int i = r.Count(1, "block loss"); i > 0; i--)
                losses.Add(new BlockLoss(r.Int32(), r.Double(), r.Double(), r.Double(), r.Double(),
                    r.Double(), r.Double()));
            xq = ReadWindows(r, c, windows, windowLength, "X_q");
            xfp = ReadWindows(r, c, windows, windowLength, "X_fp");
            r.Finish();
        }
        for (int b = 0; b < next; b++) // missing files refused now; each is verified against its checksum when read
            if (!File.Exists(BlockFile(b)))
                throw WorkFile.Damaged(BlockFile(b), Path, $"missing, though the state records {next} finished blocks");
        return new State(next, b => ReadBlock(BlockFile(b), quantizer, c, next), layers, losses, xq, xfp);
    }

    /// <summary>Saves the state after block <paramref name="nextBlock"/> − 1 was committed.</summary>
    public void Save(int nextBlock, QuantizedBlock[] blocks, IReadOnlyList<LayerReport> layers,
        IReadOnlyList<BlockLoss> losses, float[][] xq, float[][] xfp)
    {
        Create();
        WorkFile.Write(BlockFile(nextBlock - 1), Path, w => WriteBlock(w, blocks[nextBlock - 1]));
        TestHooks.Point($"between-block-and-state:{nextBlock - 1}");
        WorkFile.Write(System.IO.Path.Combine(Path, StateFile), Path, w =>
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
        WorkFile.Write(ClippingFile(block), Path, w =>
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
        using var r = WorkFile.OpenVerified(ClippingFile(block), Path,
            $"missing, though the state records block {block} as finished");
        for (int i = r.Count(1, "clipping entry"); i > 0; i--)
        {
            string name = r.String();
            float[] u = r.Floats("u"), l = r.Floats("l");
            if (u.Length != l.Length) throw r.Damaged($"{name} has {u.Length} u and {l.Length} l values");
            into.Add(name, u, l);
        }
        r.Finish();
    }

    /// <summary>Caches block <paramref name="block"/>'s SVD factors (one per linear, in <see cref="BlockLinears.All"/>
    /// order), so a run resumed in the middle of that block does not recompute them.</summary>
    public void SaveFactors(int block, IReadOnlyList<SvdFactors> factors)
    {
        Create();
        WorkFile.Write(FactorsFile(block), Path, w =>
        {
            w.Write(factors.Count);
            foreach (var f in factors)
            {
                w.Write(f.Rows); w.Write(f.Cols); w.Write(f.Rank);
                WriteFloats(w, f.Ut); WriteFloats(w, f.S); WriteFloats(w, f.Vt);
            }
        });
    }

    /// <summary>The cached SVD factors of block <paramref name="block"/> (each checked against the layer's shape), or
    /// null when they were not computed yet.</summary>
    public SvdFactors[]? LoadFactors(int block, LlamaConfig c)
    {
        string file = FactorsFile(block);
        if (!File.Exists(file)) return null;
        using var r = WorkFile.OpenVerified(file, Path, "missing");
        if (r.Int32() != BlockLinears.All.Length) throw r.Damaged($"expected the factors of {BlockLinears.All.Length} linears");
        var factors = new SvdFactors[BlockLinears.All.Length];
        for (int i = 0; i < factors.Length; i++)
        {
            var (rows, cols) = BlockLinears.All[i].Shape(c);
            int fr = r.Int32(), fc = r.Int32(), rank = r.Int32();
            if (fr != rows || fc != cols || rank < 0 || rank > Math.Min(rows, cols))
                throw r.Damaged($"{BlockLinears.All[i].Part} factors are [{fr}, {fc}] of rank {rank}, expected [{rows}, {cols}]");
            factors[i] = new SvdFactors(fr, fc, rank, r.Floats("U"), r.Floats("S"), r.Floats("V"));
            if (factors[i].Ut.Length != (long)rank * rows || factors[i].S.Length != rank || factors[i].Vt.Length != (long)rank * cols)
                throw r.Damaged($"{BlockLinears.All[i].Part} factors do not hold rank {rank}");
        }
        r.Finish();
        return factors;
    }

    /// <summary>
    /// Refuses to start block <paramref name="block"/> when the file system cannot hold what saving it writes: the
    /// state (both activation sets), the block's codes and parameters, its clipping and, with SDE, its SVD factors,
    /// each beside the previous copy until it is renamed over it. Checked before the block trains, not after.
    /// </summary>
    public void EnsureSpace(int block, long bytes)
    {
        if (FreeSpace.Available(Path) is not { } free) return;
        if (free < bytes)
            throw new QuantNativeException(
                $"{Path}: saving block {block} needs about {FreeSpace.Mib(bytes)} MiB, but its file system has {FreeSpace.Mib(free)} MiB " +
                $"free; free some space and run the same command again (it continues from block {block})");
    }

    /// <summary>What <see cref="EnsureSpace"/> asks for one block: see there; 1 MiB covers the reports and headers.</summary>
    public static long BlockSaveBytes(LlamaConfig c, QuantizerConfig quantizer, long windowFloats, bool withFactors,
        bool withLearned)
    {
        long bytes = 2 * windowFloats * sizeof(float) + (1 << 20);
        foreach (var linear in BlockLinears.All)
        {
            var (rows, cols) = linear.Shape(c);
            long groups = (long)rows * quantizer.Layout(cols).Groups;
            bytes += (long)rows * cols + groups * (sizeof(float) + sizeof(int)) // codes, scales, zeros
                     + (quantizer.FreeMinimum ? groups * sizeof(float) : 0) // minimums
                     + 2 * groups * sizeof(float); // the clipping's u and l
            if (withFactors) bytes += (long)Math.Min(rows, cols) * (rows + cols + 1) * sizeof(float);
            if (withLearned) bytes += ((long)rows * cols + 2 * groups + cols) * sizeof(float); // W', ranges, energy
        }
        return bytes + (2 + BlockExtraParts.Of(c).Count()) * (long)c.HiddenSize * sizeof(float) * 4;
    }


    /// <summary>The directory with its fingerprint, written first so no state file ever sits without it.</summary>
    private void Create()
    {
        string fp = System.IO.Path.Combine(Path, FingerprintFile);
        try
        {
            Directory.CreateDirectory(Path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new QuantNativeException($"{Path}: cannot create the work directory ({WorkFile.Reason(e)})", e);
        }
        if (!File.Exists(fp)) WorkFile.WriteText(fp, Path, FingerprintText);
    }

    private string ReadText(string file)
    {
        try
        {
            return File.ReadAllText(file);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new QuantNativeException($"{file}: reading the resume state failed ({WorkFile.Reason(e)})", e);
        }
    }

    private string BlockFile(int block) => System.IO.Path.Combine(Path, $"block-{block}.bin");
    private string ClippingFile(int block) => System.IO.Path.Combine(Path, $"clipping-{block}.bin");
    private string FactorsFile(int block) => System.IO.Path.Combine(Path, $"svd-{block}.bin");

    private static void WriteWindows(BinaryWriter w, float[][] windows)
    {
        w.Write(windows.Length);
        foreach (var x in windows)
        {
            w.Write(x.Length);
            w.Write(MemoryMarshal.AsBytes(x.AsSpan()));
        }
    }

    /// <summary>The saved activations, which must be this run's shape: <paramref name="count"/> windows of
    /// <paramref name="length"/> × hidden floats (−1: not checked).</summary>
    private static float[][] ReadWindows(WorkFileReader r, LlamaConfig c, int count, int length, string what)
    {
        var windows = new float[r.Count(sizeof(int), what)][];
        if (count >= 0 && windows.Length != count) throw r.Damaged($"{what} holds {windows.Length} windows, this run {count}");
        for (int k = 0; k < windows.Length; k++)
        {
            windows[k] = r.Floats(what);
            if (length >= 0 && windows[k].Length != (long)length * c.HiddenSize)
                throw r.Damaged($"{what} window {k} holds {windows[k].Length} values, expected {length} × {c.HiddenSize}");
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
            if (m.Minimums != null) w.Write(MemoryMarshal.AsBytes(m.Minimums.AsSpan())); // the quantizer says whether
        }
        // What a K-quant export fits (a run that keeps them: every linear has both, BlockCommitter.Finish).
        w.Write(b.Learned != null);
        if (b.Learned != null)
            foreach (var linear in BlockLinears.All)
            {
                var l = b.Learned[linear.Part];
                WriteFloats(w, l.Weights); WriteFloats(w, l.RangeMin); WriteFloats(w, l.RangeMax);
            }
        w.Write(b.Importance != null);
        if (b.Importance != null)
            foreach (var linear in BlockLinears.All) WriteFloats(w, b.Importance[linear.Part]);
    }

    private QuantizedBlock ReadBlock(string file, QuantizerConfig quantizer, LlamaConfig c, int finished)
    {
        using var r = WorkFile.OpenVerified(file, Path, $"missing, though the state records {finished} finished blocks");
        float[] Norm(string what)
        {
            var a = r.Floats(what);
            if (a.Length != c.HiddenSize) throw r.Damaged($"{what} has {a.Length} values, expected {c.HiddenSize}");
            return a;
        }
        var attn = Norm("input_layernorm");
        var ffn = Norm("post_attention_layernorm");
        var extras = BlockExtraParts.Load(c, part =>
        {
            var a = r.Floats(part.Part);
            if (a.Length != part.Length(c)) throw r.Damaged($"{part.Part} has {a.Length} values, expected {part.Length(c)}");
            return a;
        });
        var linears = new Dictionary<string, QuantizedMatrix>();
        foreach (var linear in BlockLinears.All)
        {
            int rows = r.Int32(), columns = r.Int32();
            var (er, ec) = linear.Shape(c);
            if (rows != er || columns != ec) throw r.Damaged($"{linear.Part} is [{rows}, {columns}], expected [{er}, {ec}]");
            var layout = quantizer.Layout(columns);
            var codes = r.Bytes(rows * columns);
            if (codes.Any(q => q > quantizer.MaxCode)) throw r.Damaged($"{linear.Part} holds a code above {quantizer.MaxCode}");
            var scales = new float[rows * layout.Groups];
            r.Into(scales);
            var zeros = new int[rows * layout.Groups];
            r.Into(zeros);
            float[]? minimums = null;
            if (quantizer.FreeMinimum) r.Into(minimums = new float[rows * layout.Groups]);
            linears[linear.Part] = new QuantizedMatrix(rows, columns, quantizer, codes, scales, zeros,
                QuantizedMatrix.NaturalGroupIndex(layout), $"{file} {linear.Part}", minimums);
        }
        float[] Floats(BlockLinear linear, string what, long expected)
        {
            var a = r.Floats($"{linear.Part} {what}");
            if (a.Length != expected) throw r.Damaged($"{linear.Part} {what} has {a.Length} values, expected {expected}");
            return a;
        }
        Dictionary<string, Formats.Gguf.LearnedLinear>? learned = null;
        if (r.Bool())
        {
            learned = new();
            foreach (var linear in BlockLinears.All)
            {
                var (rows, columns) = linear.Shape(c);
                long groups = (long)rows * quantizer.Layout(columns).Groups;
                learned[linear.Part] = new Formats.Gguf.LearnedLinear(Floats(linear, "W'", (long)rows * columns),
                    Floats(linear, "range min", groups), Floats(linear, "range max", groups));
            }
        }
        Dictionary<string, float[]>? importance = null;
        if (r.Bool())
        {
            importance = new();
            foreach (var linear in BlockLinears.All)
                importance[linear.Part] = Floats(linear, "input energy", linear.Shape(c).Columns);
        }
        r.Finish();
        return new QuantizedBlock
        {
            AttnNorm = attn, FfnNorm = ffn, Extras = extras, Linears = linears, Learned = learned, Importance = importance,
        };
    }

    private static void WriteFloats(BinaryWriter w, float[] a)
    {
        w.Write(a.Length);
        w.Write(MemoryMarshal.AsBytes(a.AsSpan()));
    }
}
