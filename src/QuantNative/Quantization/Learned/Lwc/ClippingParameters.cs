using System.Globalization;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using QuantNative.Formats;
using QuantNative.Formats.HuggingFace;
using QuantNative.Formats.Safetensors;
using QuantNative.Model;
using QuantNative.Model.Quantized;

namespace QuantNative.Quantization.Learned.Lwc;

/// <summary>
/// The learned clipping parameters (u, l per group, DESIGN.md §7.3) of a finished omniquant/lsi/cqe+ run, kept in
/// its output directory as lwc_clipping.qnclip — a safetensors file (`{linear}.lwc_u`, `{linear}.lwc_l`, F32
/// [rows·groups]; metadata: the model's identity and the quantizer) under an extension that loaders taking every
/// *.safetensors of a directory as weights skip —, so a later CQE+ run can start from them (`--init-from`). A file made from another model or with another bit width / group size is refused
/// before any work starts.
/// </summary>
public sealed class ClippingParameters
{
    public const string FileName = "lwc_clipping.qnclip";
    private const string ModelKey = "model_identity", BitsKey = "bits", GroupKey = "group_size", SymKey = "sym",
        FreeMinKey = "free_min";

    private readonly Dictionary<string, (float[] U, float[] L)> _byLinear = new();

    public ClippingParameters(string modelIdentity, QuantizerConfig quantizer)
    {
        ModelIdentity = modelIdentity;
        Quantizer = quantizer;
    }

    public string ModelIdentity { get; }
    public QuantizerConfig Quantizer { get; }
    public int Count => _byLinear.Count;

    public void Add(string linear, float[] u, float[] l) => _byLinear[linear] = ((float[])u.Clone(), (float[])l.Clone());

    public (float[] U, float[] L) Get(string linear, long groups, string source)
    {
        if (!_byLinear.TryGetValue(linear, out var p))
            throw new QuantNativeException($"--init-from {source}: {FileName} has no clipping parameters for {linear}");
        if (p.U.Length != groups)
            throw new QuantNativeException($"--init-from {source}: {linear} has {p.U.Length} clipping groups, this run needs {groups}");
        return p;
    }

    /// <summary>SHA-256 of the model's config and token embedding: what tells two models apart without reading every block.</summary>
    public static string Identity(LlamaConfig c, float[] embedding)
    {
        using var h = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        h.AppendData(Encoding.UTF8.GetBytes(c.ToString()));
        h.AppendData(MemoryMarshal.AsBytes(embedding.AsSpan()));
        return Convert.ToHexString(h.GetHashAndReset());
    }

    /// <summary>The file as an extra file of the output checkpoint (written with it, renamed into place with it).</summary>
    public ExtraFile ToExtraFile() => new(FileName, stream =>
    {
        string temp = Path.Combine(Path.GetTempPath(), $"qn-clipping-{Guid.NewGuid():N}.safetensors");
        try
        {
            var inv = CultureInfo.InvariantCulture;
            SafetensorsWriter.WriteFile(temp,
                _byLinear.OrderBy(p => p.Key, StringComparer.Ordinal).SelectMany(p => new[]
                {
                    ($"{p.Key}.lwc_u", new long[] { p.Value.U.Length }, p.Value.U),
                    ($"{p.Key}.lwc_l", new long[] { p.Value.L.Length }, p.Value.L),
                }), FloatDType.F32, new Dictionary<string, string>
                {
                    [ModelKey] = ModelIdentity, [BitsKey] = Quantizer.Bits.ToString(inv),
                    [GroupKey] = Quantizer.GroupSize.ToString(inv),
                    [SymKey] = Quantizer.Symmetric ? "true" : "false",
                    [FreeMinKey] = Quantizer.FreeMinimum ? "true" : "false",
                });
            using var source = File.OpenRead(temp);
            source.CopyTo(stream);
        }
        finally
        {
            AtomicOutput.TryDelete(temp);
        }
    });

    /// <summary>Reads <paramref name="directory"/>/lwc_clipping.safetensors and checks that it belongs to this model
    /// and quantizer; every refusal names --init-from and says what differs.</summary>
    public static ClippingParameters Load(string directory, string modelIdentity, QuantizerConfig quantizer)
    {
        string path = Path.Combine(directory, FileName);
        if (!File.Exists(path))
            throw new QuantNativeException($"--init-from {directory}: no {FileName}; expected the output directory of a finished " +
                                           "`qn quantize --method omniquant` (or lsi, cqe+) run");
        using var file = SafetensorsFile.Open(path);
        var meta = file.Metadata;
        if (!meta.TryGetValue(ModelKey, out var identity) || identity != modelIdentity)
            throw new QuantNativeException($"--init-from {directory}: its clipping parameters were learned on another model " +
                                           "(the config or token embedding differ from --model's); expected a run of the same model");
        int bits = int.Parse(meta.GetValueOrDefault(BitsKey, "0"), CultureInfo.InvariantCulture);
        int group = int.Parse(meta.GetValueOrDefault(GroupKey, "0"), CultureInfo.InvariantCulture);
        if (bits != quantizer.Bits || group != quantizer.GroupSize)
            throw new QuantNativeException($"--init-from {directory}: its clipping parameters are for W{bits} group {group}, " +
                                           $"this run is W{quantizer.Bits} group {quantizer.GroupSize}; expected the same bits and group size");
        // Files from before symmetric clipping existed have no key: they are asymmetric.
        bool sym = meta.GetValueOrDefault(SymKey, "false") == "true";
        bool freeMin = meta.GetValueOrDefault(FreeMinKey, "false") == "true";
        if (sym != quantizer.Symmetric || freeMin != quantizer.FreeMinimum)
            throw new QuantNativeException($"--init-from {directory}: its clipping parameters are {Grid(sym, freeMin)}, this run is " +
                                           $"{Grid(quantizer.Symmetric, quantizer.FreeMinimum)}; expected the same quantizer");
        var result = new ClippingParameters(identity, quantizer);
        foreach (var t in file.Tensors.Where(t => t.Name.EndsWith(".lwc_u", StringComparison.Ordinal)))
        {
            string linear = t.Name[..^".lwc_u".Length];
            result._byLinear[linear] = (file.ReadFloats(t.Name), file.ReadFloats($"{linear}.lwc_l"));
        }
        return result;
    }

    private static string Grid(bool sym, bool freeMin) =>
        sym ? "symmetric (--sym: one factor per group)"
        : freeMin ? "asymmetric with a free minimum (--free-min)"
        : "asymmetric (an integer zero point)";
}
