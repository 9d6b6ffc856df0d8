using NUnit.Framework;
using QuantNative.Formats;
using QuantNative.Formats.Gguf;
using QuantNative.Model;

namespace QuantNative.Tests.Formats.Gguf;

/// <summary>The GGUF v3 container: header, metadata of every type, tensor infos and aligned data read back as written;
/// damaged files are one error naming the file; an interrupted write leaves nothing under the final name.</summary>
public class GgufFileTests
{
    private string _dir = "";

    [SetUp] public void SetUp() => _dir = TestPaths.NewTempDir();
    [TearDown] public void TearDown() => Directory.Delete(_dir, true);

    private static List<KeyValuePair<string, GgufValue>> Metadata() =>
    [
        new("general.architecture", GgufValue.Of("llama")),
        new("u32", GgufValue.Of(7u)), new("i32", GgufValue.Of(-3)), new("f32", GgufValue.Of(0.25f)),
        new("flag", GgufValue.Of(true)), new("strings", GgufValue.Of(["a", "▁b", ""])),
        new("floats", GgufValue.Of([1f, -2f])), new("ints", GgufValue.Of([5, 6, 7])),
    ];

    private static List<GgufTensorPlan> Tensors() =>
    [
        new("a", [3], GgmlType.F32, () => GgufExporter.FloatBytes([1, 2, 3], GgmlType.F32)),
        new("b", [32, 2], GgmlType.Q8_0, () => new byte[68]),
        new("c", [5, 2], GgmlType.BF16, () => GgufExporter.FloatBytes([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], GgmlType.BF16)),
    ];

    [Test]
    public void MetadataAndTensorsReadBackAsWritten()
    {
        string path = Path.Combine(_dir, "m.gguf");
        GgufWriter.Write(path, Metadata(), Tensors(), overwrite: false);
        using var f = GgufFile.Open(path);
        Assert.That(f.Version, Is.EqualTo(3u));
        Assert.That(f.Metadata.Select(kv => kv.Key), Is.EqualTo(Metadata().Select(kv => kv.Key)));
        Assert.That(f.Require("u32").Value, Is.EqualTo(7u));
        Assert.That(f.Require("i32").Value, Is.EqualTo(-3));
        Assert.That(f.Require("f32").Value, Is.EqualTo(0.25f));
        Assert.That(f.Require("flag").Value, Is.EqualTo(true));
        Assert.That(f.Require("strings").Value, Is.EqualTo(new[] { "a", "▁b", "" }));
        Assert.That(f.Require("ints").Value, Is.EqualTo(new[] { 5, 6, 7 }));
        Assert.That(f.Tensors.Select(t => t.Offset % GgufWriter.DefaultAlignment), Is.All.Zero, "every tensor aligned to 32 bytes");
        Assert.That(f.ReadFloats("a"), Is.EqualTo(new float[] { 1, 2, 3 }));
        Assert.That(f.ReadFloats("c"), Is.EqualTo(Enumerable.Range(1, 10).Select(i => (float)i).ToArray()));
        Assert.That(f.Tensor("b").Dims, Is.EqualTo(new long[] { 32, 2 }));
        // The header's first bytes, as the spec spells them.
        var head = File.ReadAllBytes(path).AsSpan(0, 8).ToArray();
        Assert.That(head, Is.EqualTo(new byte[] { (byte)'G', (byte)'G', (byte)'U', (byte)'F', 3, 0, 0, 0 }));
    }

    [Test]
    public void TruncatedOrForeignFilesAreOneErrorNamingTheFile()
    {
        string path = Path.Combine(_dir, "m.gguf");
        GgufWriter.Write(path, Metadata(), Tensors(), overwrite: false);
        var bytes = File.ReadAllBytes(path);
        foreach (int keep in new[] { 6, 40, bytes.Length - 20 }) // the magic, a metadata string, the last tensor's data
        {
            string cut = Path.Combine(_dir, $"cut{keep}.gguf");
            File.WriteAllBytes(cut, bytes[..keep]);
            var e = Assert.Throws<QuantNativeException>(() => GgufFile.Open(cut).Dispose());
            Assert.That(e!.Message, Does.StartWith(cut + ":"));
        }
        string foreign = Path.Combine(_dir, "x.gguf");
        File.WriteAllBytes(foreign, [1, 2, 3, 4, 5, 6, 7, 8]);
        Assert.That(GgufFile.IsGguf(foreign), Is.False);
        Assert.That(Assert.Throws<QuantNativeException>(() => GgufFile.Open(foreign).Dispose())!.Message, Does.Contain("not a GGUF file"));
    }

    [Test]
    public void AnInterruptedWriteLeavesNothing()
    {
        string path = Path.Combine(_dir, "m.gguf");
        Assert.Throws<InvalidOperationException>(() =>
            GgufWriter.Write(path, Metadata(), Tensors(), overwrite: false, afterTensor: n => { if (n == "b") throw new InvalidOperationException("killed"); }));
        Assert.That(Directory.GetFileSystemEntries(_dir), Is.Empty);
        GgufWriter.Write(path, Metadata(), Tensors(), overwrite: false);
        Assert.That(Assert.Throws<QuantNativeException>(() => GgufWriter.Write(path, Metadata(), Tensors(), overwrite: false))!.Message,
            Does.Contain("already exists"));
    }

    /// <summary>Each family's features (q/k/v/o biases, q/k norms, head_dim ≠ hidden/heads, llama3 rope, tied or not)
    /// go through a float export and back bit for bit: names, the q/k permutation and its inverse, the hyper-parameters.</summary>
    [TestCase("llama", true, false, 0)]
    [TestCase("mistral", false, false, 5)]
    [TestCase("qwen2", true, false, 0)]
    [TestCase("qwen3", false, true, 0)]
    public void FloatExportsReadBackBitForBit(string family, bool bias, bool qkNorm, int window)
    {
        var c = RandomModels.Config(24, 40, 2, 4, 2, 300, 64, tied: family != "mistral") with
        {
            HeadDim = family == "qwen3" ? 8 : 6, AttentionBias = bias, OutputBias = bias && family == "llama", QkNorm = qkNorm,
            SlidingWindow = window,
            RopeScaling = family == "llama" ? new RopeScaling(RopeType.Llama3, 8, 1, 4, 32) : RopeScaling.None,
            Identity = new ModelIdentity(family, family + "Class", 1, [2]),
        };
        var random = new Random(family.Length);
        float[] R(long n) => RandomModels.Floats(random, n);
        long d = c.HiddenSize, f = c.IntermediateSize;
        var blocks = Enumerable.Range(0, c.NumLayers).Select(_ => new LlamaBlockWeights
        {
            AttnNorm = R(d), Wq = R(c.QDim * d), Wk = R(c.KvDim * d), Wv = R(c.KvDim * d), Wo = R(d * c.QDim), FfnNorm = R(d),
            WGate = R(f * d), WUp = R(f * d), WDown = R(d * f),
            Extras = BlockExtraParts.Load(c, p => R(p.Length(c))),
        }).ToList();
        var model = new InMemoryModelSource(c, R(c.VocabSize * d), blocks, R(d), c.TieWordEmbeddings ? null : R(c.VocabSize * d));
        string path = Path.Combine(_dir, $"{family}.gguf");
        GgufExporter.Write(GgufExportSource.FromSource(model), path, GgmlType.F32, [], family, overwrite: false);
        using var back = GgufModelSource.Open(path);
        var expected = c with { SlidingWindow = 0, Identity = c.Identity with { EosTokenIds = [] , BosTokenId = null } };
        Assert.That(back.Config with { Identity = expected.Identity }, Is.EqualTo(expected), "hyper-parameters (llama.cpp runs no sliding window)");
        Assert.That(back.Config.Identity.ModelType, Is.EqualTo(family));
        // The same arrays under the config as llama.cpp runs it (no sliding window).
        RandomModels.AssertSameWeights(new InMemoryModelSource(c with { SlidingWindow = 0 }, model.LoadTokenEmbedding(), blocks,
            model.LoadFinalNorm(), c.TieWordEmbeddings ? null : model.LoadOutput()), back);
        for (int i = 0; i < c.NumLayers; i++)
            foreach (var part in BlockExtraParts.Of(c))
                RandomModels.AssertBits(part.Get(model.LoadBlock(i).Extras)!, part.Get(back.LoadBlock(i).Extras)!, $"layer {i} {part.Part}");
    }
}
