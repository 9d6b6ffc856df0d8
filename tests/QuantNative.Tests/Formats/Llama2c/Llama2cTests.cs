using System.Runtime.InteropServices;
using NUnit.Framework;
using QuantNative.Formats.Llama2c;
using QuantNative.Model;

namespace QuantNative.Tests.Formats.Llama2c;

public class Llama2cTests
{
    private string _dir = "";

    [SetUp] public void SetUp() => _dir = TestPaths.NewTempDir();
    [TearDown] public void TearDown() => Directory.Delete(_dir, recursive: true);

    [Test]
    public void Stories260KOpensWithTheReadmeConfig()
    {
        using var model = Llama2cCheckpoint.Open(TestPaths.Stories260K);
        // The README's header: dim=64, hidden_dim=172, n_layers=5, n_heads=8, n_kv_heads=4, vocab_size=512, seq_len=512.
        Assert.That(model.Config, Is.EqualTo(new LlamaConfig(64, 172, 5, 8, 4, 512, 512, 1e-5f, 10000f, TieWordEmbeddings: true)));
        Assert.That(model.Format, Is.EqualTo("llama2.c"));
        Assert.That(model.Path, Is.EqualTo(TestPaths.Stories260K));
        var shapes = model.Tensors.ToDictionary(t => t.Name, t => t.Shape);
        Assert.That(shapes.Keys, Is.EqualTo(new[]
        {
            "token_embedding_table", "rms_att_weight", "wq", "wk", "wv", "wo", "rms_ffn_weight", "w1", "w2", "w3",
            "rms_final_weight", "freq_cis_real", "freq_cis_imag",
        }));
        Assert.That(shapes["token_embedding_table"], Is.EqualTo(new long[] { 512, 64 }));
        Assert.That(shapes["wk"], Is.EqualTo(new long[] { 5, 32, 64 }));
        Assert.That(shapes["w2"], Is.EqualTo(new long[] { 5, 64, 172 }));
        Assert.That(shapes["freq_cis_real"], Is.EqualTo(new long[] { 512, 4 }));
        Assert.That(model.Tensors.Sum(t => t.ElementCount) * 4 + 28, Is.EqualTo(new FileInfo(TestPaths.Stories260K).Length));
    }

    [Test]
    public void Stories260KTensorsAreTheFileArraysWithWqWkPermuted()
    {
        var raw = new Llama2cFile(TestPaths.Stories260K);
        using var model = Llama2cCheckpoint.Open(TestPaths.Stories260K);
        var c = model.Config;
        RandomModels.AssertBits(raw.Arrays["token_embedding_table"], model.LoadTokenEmbedding(), "embedding");
        RandomModels.AssertBits(raw.Arrays["token_embedding_table"], model.LoadOutput(), "tied output");
        RandomModels.AssertBits(raw.Arrays["rms_final_weight"], model.LoadFinalNorm(), "final norm");
        for (int layer = 0; layer < c.NumLayers; layer++)
        {
            var b = model.LoadBlock(layer);
            RandomModels.AssertBits(raw.Layer("rms_att_weight", layer), b.AttnNorm, "rms_att");
            RandomModels.AssertBits(raw.Layer("wv", layer), b.Wv, "wv");
            RandomModels.AssertBits(raw.Layer("wo", layer), b.Wo, "wo");
            RandomModels.AssertBits(raw.Layer("rms_ffn_weight", layer), b.FfnNorm, "rms_ffn");
            RandomModels.AssertBits(raw.Layer("w1", layer), b.WGate, "w1 = gate");
            RandomModels.AssertBits(raw.Layer("w3", layer), b.WUp, "w3 = up");
            RandomModels.AssertBits(raw.Layer("w2", layer), b.WDown, "w2 = down");
            AssertRotateHalfOf(raw.Layer("wq", layer), b.Wq, c.NumHeads, c.HeadDim, c.HiddenSize, $"layer {layer} wq");
            AssertRotateHalfOf(raw.Layer("wk", layer), b.Wk, c.NumKvHeads, c.HeadDim, c.HiddenSize, $"layer {layer} wk");
        }
    }

    [TestCaseSource(typeof(RandomModels), nameof(RandomModels.Configs))]
    public void RandomModelRoundTripsBitExact(LlamaConfig config)
    {
        using var source = RandomModels.Create(config, seed: config.HiddenSize);
        string path = Path.Combine(_dir, "model.bin");
        Llama2cWriter.Write(source, path);

        var raw = new Llama2cFile(path); // throws when the file holds more or fewer bytes than the README layout
        Assert.That(raw.Header, Is.EqualTo(new[]
        {
            config.HiddenSize, config.IntermediateSize, config.NumLayers, config.NumHeads, config.NumKvHeads,
            config.TieWordEmbeddings ? config.VocabSize : -config.VocabSize, config.MaxPositionEmbeddings,
        }));
        using var read = Llama2cCheckpoint.Open(path);
        RandomModels.AssertSameWeights(source, read);

        // Writing what was read gives the same bytes: nothing in the format depends on the writer's input kind.
        string again = Path.Combine(_dir, "again.bin");
        Llama2cWriter.Write(read, again);
        Assert.That(File.ReadAllBytes(again), Is.EqualTo(File.ReadAllBytes(path)));
        Assert.That(Directory.GetFiles(_dir).Select(Path.GetFileName), Is.EquivalentTo(new[] { "model.bin", "again.bin" }),
            "no temporary files left");
    }

    [Test]
    public void WriterStoresWqWkInAdjacentPairLayout()
    {
        var config = RandomModels.Config(24, 10, 2, 3, 1, 9, 4, tied: false);
        using var source = RandomModels.Create(config, seed: 3);
        string path = Path.Combine(_dir, "m.bin");
        Llama2cWriter.Write(source, path);
        var raw = new Llama2cFile(path);
        for (int layer = 0; layer < 2; layer++)
        {
            var b = source.LoadBlock(layer);
            AssertRotateHalfOf(raw.Layer("wq", layer), b.Wq, 3, 8, 24, "wq");
            AssertRotateHalfOf(raw.Layer("wk", layer), b.Wk, 1, 8, 24, "wk");
            RandomModels.AssertBits(b.WGate, raw.Layer("w1", layer), "w1");
        }
        RandomModels.AssertBits(source.LoadOutput(), raw.Arrays["wcls"], "wcls");
    }

    [Test]
    public void RewritingStories260KReproducesItsBytes()
    {
        string path = Path.Combine(_dir, "stories.bin");
        using (var model = Llama2cCheckpoint.Open(TestPaths.Stories260K))
            Llama2cWriter.Write(model, path);
        var original = new Llama2cFile(TestPaths.Stories260K);
        var rewritten = new Llama2cFile(path);
        Assert.That(rewritten.Header, Is.EqualTo(original.Header));
        foreach (var (name, values) in original.Arrays)
        {
            if (name.StartsWith("freq_cis", StringComparison.Ordinal))
                // Unused tables that the original export computed in float32; ours are computed in float64.
                Assert.That(rewritten.Arrays[name], Is.EqualTo(values).Within(1e-4f), name);
            else
                RandomModels.AssertBits(values, rewritten.Arrays[name], name);
        }
    }

    [Test]
    public void MissingFileIsReported()
    {
        string path = Path.Combine(_dir, "nope.bin");
        var e = Assert.Throws<QuantNativeException>(() => Llama2cCheckpoint.Open(path));
        Assert.That(e!.Message, Does.Contain(path).And.Contain("not found"));
    }

    [Test]
    public void TruncatedCheckpointNamesFileAndBothSizes()
    {
        string path = WriteRandom(out long size);
        using (var f = new FileStream(path, FileMode.Open)) f.SetLength(size - 4);
        var e = Assert.Throws<QuantNativeException>(() => Llama2cCheckpoint.Open(path));
        Assert.That(e!.Message, Does.Contain(path).And.Contain($"{size - 4}").And.Contain($"{size}").And.Contain("truncated"));
    }

    [Test]
    public void FileLongerThanTheHeaderSaysIsRejected()
    {
        string path = WriteRandom(out long size);
        using (var f = new FileStream(path, FileMode.Append)) f.Write(new byte[4]);
        var e = Assert.Throws<QuantNativeException>(() => Llama2cCheckpoint.Open(path));
        Assert.That(e!.Message, Does.Contain(path).And.Contain($"{size + 4}").And.Contain($"{size}"));
    }

    [TestCase(2, 1, "layers")]      // one layer too many: the file is too short for it
    [TestCase(5, -1, "vocab sign")] // negative vocab: the header claims an untied classifier that is not there
    [TestCase(6, 1, "seq_len")]     // a longer seq_len means larger RoPE tables
    public void HeaderDisagreeingWithFileSizeIsRejected(int field, int change, string what)
    {
        string path = WriteRandom(out long size);
        var header = ReadHeader(path);
        header[field] = field == 5 ? -header[5] : header[field] + change;
        WriteHeader(path, header);
        var e = Assert.Throws<QuantNativeException>(() => Llama2cCheckpoint.Open(path), what);
        Assert.That(e!.Message, Does.Contain(path).And.Contain($"file size {size} bytes"), what);
    }

    [TestCase(3, 0, "must be positive")]
    [TestCase(3, 5, "multiple of n_heads")]
    [TestCase(4, 4, "multiple of n_kv_heads")]
    [TestCase(5, 0, "vocab_size")]
    public void ImpossibleHeaderIsRejected(int field, int value, string reason)
    {
        string path = WriteRandom(out _);  // dim 24, n_heads 6, n_kv_heads 2
        var header = ReadHeader(path);
        header[field] = value;
        WriteHeader(path, header);
        var e = Assert.Throws<QuantNativeException>(() => Llama2cCheckpoint.Open(path));
        Assert.That(e!.Message, Does.Contain(path).And.Contain(reason));
    }

    [Test]
    public void FileShorterThanTheHeaderIsRejected()
    {
        string path = Path.Combine(_dir, "short.bin");
        File.WriteAllBytes(path, new byte[10]);
        var e = Assert.Throws<QuantNativeException>(() => Llama2cCheckpoint.Open(path));
        Assert.That(e!.Message, Does.Contain(path).And.Contain("10 bytes"));
    }

    [Test]
    public void VersionedExportIsNamed()
    {
        string path = WriteRandom(out _);
        var header = ReadHeader(path);
        header[0] = 0x616b3432; // "ak42"
        header[1] = 1;
        WriteHeader(path, header);
        var e = Assert.Throws<QuantNativeException>(() => Llama2cCheckpoint.Open(path));
        Assert.That(e!.Message, Does.Contain(path).And.Contain("version 1"));
    }

    [Test]
    public void InterruptedWriteLeavesNoFile()
    {
        var config = RandomModels.Config(24, 37, 3, 6, 2, 53, 19, tied: true);
        using var source = new FailingSource(RandomModels.Create(config, 1), failAtLayer: 1);
        string path = Path.Combine(_dir, "model.bin");
        var e = Assert.Throws<QuantNativeException>(() => Llama2cWriter.Write(source, path));
        Assert.That(e!.Message, Does.Contain(path).And.Contain("simulated read failure"));
        Assert.That(Directory.GetFileSystemEntries(_dir), Is.Empty);
    }

    [Test]
    public void ConfigTheFormatCannotStoreIsRefusedUnlessAllowed()
    {
        var config = RandomModels.Config(12, 29, 1, 3, 1, 31, 3, tied: true) with { RmsNormEps = 1e-6f };
        using var source = RandomModels.Create(config, 2);
        string path = Path.Combine(_dir, "model.bin");
        var e = Assert.Throws<QuantNativeException>(() => Llama2cWriter.Write(source, path));
        Assert.That(e!.Message, Does.Contain("rms_norm_eps"));
        Assert.That(File.Exists(path), Is.False);
        Llama2cWriter.Write(source, path, allowConfigLoss: true);
        using var read = Llama2cCheckpoint.Open(path);
        Assert.That(read.Config.RmsNormEps, Is.EqualTo(1e-5f));
    }

    private string WriteRandom(out long size)
    {
        string path = Path.Combine(_dir, "model.bin");
        using var source = RandomModels.Create(RandomModels.Config(24, 37, 3, 6, 2, 53, 19, tied: true), 5);
        Llama2cWriter.Write(source, path);
        size = new FileInfo(path).Length;
        return path;
    }

    private static int[] ReadHeader(string path) => MemoryMarshal.Cast<byte, int>(File.ReadAllBytes(path).AsSpan(0, 28)).ToArray();

    private static void WriteHeader(string path, int[] header)
    {
        using var f = new FileStream(path, FileMode.Open);
        f.Write(MemoryMarshal.AsBytes(header.AsSpan()));
    }

    /// <summary>Within each head, rotate-half row i is adjacent-pair row 2i and row headDim/2 + i is row 2i + 1.</summary>
    internal static void AssertRotateHalfOf(float[] pairs, float[] halves, int heads, int headDim, int columns, string what)
    {
        Assert.That(halves, Has.Length.EqualTo(pairs.Length), what);
        for (int h = 0; h < heads; h++)
        for (int r = 0; r < headDim; r++)
        {
            int from = h * headDim + (r < headDim / 2 ? 2 * r : 2 * (r - headDim / 2) + 1);
            RandomModels.AssertBits(pairs.AsSpan(from * columns, columns).ToArray(),
                halves.AsSpan((h * headDim + r) * columns, columns).ToArray(), $"{what} head {h} row {r}");
        }
    }
}

/// <summary>A model source that fails like a disk would, at one block, to interrupt writers.</summary>
internal sealed class FailingSource(IModelSource inner, int failAtLayer) : IModelSource
{
    public string Path => inner.Path;
    public string Format => inner.Format;
    public LlamaConfig Config => inner.Config;
    public IReadOnlyList<TensorInfo> Tensors => inner.Tensors;
    public float[] LoadTokenEmbedding() => inner.LoadTokenEmbedding();
    public LlamaBlockWeights LoadBlock(int layer) =>
        layer == failAtLayer ? throw new IOException($"simulated read failure at layer {layer}") : inner.LoadBlock(layer);
    public float[] LoadFinalNorm() => inner.LoadFinalNorm();
    public float[] LoadOutput() => inner.LoadOutput();
    public void Dispose() => inner.Dispose();
}
