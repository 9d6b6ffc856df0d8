using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using QuantNative.Formats.Gguf;
using QuantNative.Formats.Gptq;
using QuantNative.Formats.HuggingFace;
using QuantNative.Formats.Llama2c;
using QuantNative.Formats.Safetensors;
using QuantNative.Model;
using QuantNative.Model.Quantized;
using QuantNative.Quantization.Learned;
using QuantNative.Tokenization;

namespace QuantNative.Fuzz;

/// <summary>
/// One harness per reader of untrusted input: each writes the input where the reader expects a file, opens it as qn
/// does and uses what it read. A <see cref="QuantNativeException"/> is the expected answer to bad input; any other
/// exception (or a hang) is a bug, reported to AFL++ as a crash. Compiled into the fuzzer (tools/fuzz) and into the
/// test project, which replays the seed corpus and every input the fuzzer ever found (tools/fuzz/regressions).
/// </summary>
public static class Harnesses
{
    public static readonly IReadOnlyDictionary<string, Action<byte[]>> All = new Dictionary<string, Action<byte[]>>
    {
        ["safetensors"] = Safetensors,
        ["llama2c"] = Llama2c,
        ["config-json"] = ConfigJson,
        ["tokenizer-json"] = TokenizerJson,
        ["tokenizer-model"] = TokenizerModel,
        ["tokenizer-bin"] = TokenizerBin,
        ["quantize-config"] = QuantizeConfig,
        ["workdir-state"] = WorkDirState,
        ["gguf"] = Gguf,
    };

    /// <summary>Runs <paramref name="harness"/> on <paramref name="data"/>, letting only unexpected exceptions out.</summary>
    public static void Run(string harness, byte[] data)
    {
        try
        {
            All[harness](data);
        }
        catch (QuantNativeException) { }
    }

    private static readonly string Scratch = Path.Combine(Path.GetTempPath(), $"qn-fuzz-{Environment.ProcessId}");

    private static string WriteInput(string name, byte[] data)
    {
        Directory.CreateDirectory(Scratch);
        string path = Path.Combine(Scratch, name);
        File.WriteAllBytes(path, data);
        return path;
    }

    private const string Sample = "Hello world, <s> 123 caf\u00e9 \U0001F600\n\t  x";

    private static void Safetensors(byte[] data)
    {
        using var file = SafetensorsFile.Open(WriteInput("model.safetensors", data));
        foreach (var t in file.Tensors)
        {
            file.Info(t.Name);
            file.ReadBytes(t.Name);
            if (t.DType is "F32" or "F16" or "BF16") file.ReadFloats(t.Name);
        }
    }

    private static void Llama2c(byte[] data)
    {
        using var model = Llama2cCheckpoint.Open(WriteInput("model.bin", data));
        model.LoadTokenEmbedding();
        model.LoadFinalNorm();
        model.LoadOutput();
        for (int layer = 0; layer < model.Config.NumLayers; layer++) model.LoadBlock(layer);
    }

    /// <summary>A GGUF file as a model (every block dequantized) and, where it carries one, as a tokenizer.</summary>
    private static void Gguf(byte[] data)
    {
        string path = WriteInput("model.gguf", data);
        bool hasTokenizer;
        using (var model = GgufModelSource.Open(path))
        {
            model.LoadTokenEmbedding();
            model.LoadFinalNorm();
            model.LoadOutput();
            for (int layer = 0; layer < model.Config.NumLayers; layer++) model.LoadBlock(layer);
            hasTokenizer = model.File.Find("tokenizer.ggml.model") != null;
        }
        if (hasTokenizer) UseTokenizer(Tokenization.Gguf.GgufTokenizer.Load(path));
    }

    private static void ConfigJson(byte[] data)
    {
        var config = HuggingFaceConfig.Read(WriteInput("config.json", data));
        using var back = new MemoryStream();
        HuggingFaceConfig.Write(back, config, Formats.FloatDType.F32); // the source's fields carried into an output
        _ = config.ParameterCount;
    }

    private static void UseTokenizer(ITextTokenizer tokenizer)
    {
        var ids = tokenizer.Encode(Sample, addBos: true);
        tokenizer.Decode(ids);
        tokenizer.Decode([0, tokenizer.VocabSize - 1]);
    }

    private static void TokenizerJson(byte[] data) =>
        UseTokenizer(HfTokenizerJson.Load(WriteInput("tokenizer.json", data), TokenizerJsonSemantics.HuggingFace));

    private static void TokenizerModel(byte[] data) =>
        UseTokenizer(SentencePieceTokenizer.Load(WriteInput("tokenizer.model", data)));

    private static void TokenizerBin(byte[] data) => UseTokenizer(Llama2cTokenizer.Load(WriteInput("tokenizer.bin", data)));

    private static void QuantizeConfig(byte[] data)
    {
        WriteInput("quantize_config.json", data);
        File.Delete(Path.Combine(Scratch, "config.json")); // the harness reads quantize_config.json alone
        GptqQuantizeConfig.TryRead(Scratch);
    }

    // The work directory of a tiny model: 2 blocks, hidden 8, per-channel W4, 1 calibration window of 4 tokens.
    // Properties, not static fields: this class's static constructor must not touch QuantNative, whose instrumented
    // code may not run in SharpFuzz's fork-server process (it has no coverage map; only its child attaches one).
    public static LlamaConfig TinyConfig => new(HiddenSize: 8, IntermediateSize: 16, NumLayers: 2, NumHeads: 2,
        NumKvHeads: 2, VocabSize: 32, MaxPositionEmbeddings: 16, RmsNormEps: 1e-5f, RopeTheta: 10000, TieWordEmbeddings: true)
    { HeadDim = 4 };

    public static QuantizerConfig TinyQuantizer => new(4, -1, false);
    private const string Fingerprint = "fuzz\n";

    /// <summary>Input: int32 n, then n bytes of state.bin's payload, then block-0.bin's payload; the harness adds each
    /// file's checksum (so the fuzzer reaches the parser, not just the checksum) and resumes from them.</summary>
    private static void WorkDirState(byte[] data)
    {
        if (data.Length < 4) return;
        int n = BinaryPrimitives.ReadInt32LittleEndian(data);
        if (n < 0 || n > data.Length - 4) return;
        string dir = Path.Combine(Scratch, "work");
        if (Directory.Exists(dir)) Directory.Delete(dir, true);
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "fingerprint.txt"), Fingerprint);
        WithChecksum(Path.Combine(dir, "state.bin"), data.AsSpan(4, n));
        WithChecksum(Path.Combine(dir, "block-0.bin"), data.AsSpan(4 + n));
        var state = new LearnedWorkDirectory(dir, Fingerprint).TryLoad(TinyConfig, TinyQuantizer, GptqCheckpointFormat.V1, 1, 4);
        if (state != null)
            for (int b = 0; b < state.NextBlock; b++)
                foreach (var m in state.LoadBlock(b).Linears.Values) m.Dequantize();
    }

    private static void ExportGguf(string llama2c, string gguf, GgmlType type)
    {
        using var source = Llama2cCheckpoint.Open(llama2c);
        GgufExporter.Write(GgufExportSource.FromSource(source), gguf, type, [], "seed", overwrite: true);
    }

    public static void WithChecksum(string file, ReadOnlySpan<byte> payload) =>
        File.WriteAllBytes(file, [.. payload, .. SHA256.HashData(payload)]);

    /// <summary>Writes the seeds that cannot simply be copied from a checkpoint: a tiny llama2.c model, a safetensors
    /// file with three dtypes, and a valid work-directory state of <see cref="TinyConfig"/>.</summary>
    public static void MakeSeeds(string root)
    {
        var random = new Random(1);
        float Next() => (float)(random.NextDouble() - 0.5);

        Directory.CreateDirectory(Path.Combine(root, "llama2c"));
        int[] header = [8, 16, 1, 2, 2, 32, 8];
        var layout = Llama2cLayout.FromHeader(header, "seed");
        var bytes = new byte[layout.FileBytes];
        for (int i = 0; i < header.Length; i++) BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(4 * i), header[i]);
        for (long o = Llama2cLayout.HeaderBytes; o < bytes.Length; o += 4) BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan((int)o), Next());
        File.WriteAllBytes(Path.Combine(root, "llama2c", "tiny.bin"), bytes);

        // GGUF: the tiny model exported as F16 and (at width 32, which block-32 types need) as Q8_0 and Q4_0; no
        // tokenizer metadata (the tokenizer path is reached by the fuzzer adding keys, or not at all: see RELIABILITY).
        Directory.CreateDirectory(Path.Combine(root, "gguf"));
        ExportGguf(Path.Combine(root, "llama2c", "tiny.bin"), Path.Combine(root, "gguf", "tiny-f16.gguf"), GgmlType.F16);
        int[] wide = [32, 64, 1, 4, 4, 32, 8];
        var wideLayout = Llama2cLayout.FromHeader(wide, "seed");
        var wideBytes = new byte[wideLayout.FileBytes];
        for (int i = 0; i < wide.Length; i++) BinaryPrimitives.WriteInt32LittleEndian(wideBytes.AsSpan(4 * i), wide[i]);
        for (long o = Llama2cLayout.HeaderBytes; o < wideBytes.Length; o += 4) BinaryPrimitives.WriteSingleLittleEndian(wideBytes.AsSpan((int)o), Next());
        string widePath = Path.Combine(Path.GetTempPath(), $"qn-seed-{Environment.ProcessId}.bin");
        File.WriteAllBytes(widePath, wideBytes);
        ExportGguf(widePath, Path.Combine(root, "gguf", "wide-q8_0.gguf"), GgmlType.Q8_0);
        ExportGguf(widePath, Path.Combine(root, "gguf", "wide-q4_0.gguf"), GgmlType.Q4_0);
        File.Delete(widePath);

        Directory.CreateDirectory(Path.Combine(root, "safetensors"));
        SafetensorsWriter.WriteFile(Path.Combine(root, "safetensors", "f32.safetensors"),
            [("a.weight", [2, 3], Enumerable.Range(0, 6).Select(_ => Next()).ToArray()), ("b", [2], [1f, -2f])],
            Formats.FloatDType.F32, new Dictionary<string, string> { ["format"] = "pt" });
        SafetensorsWriter.WriteFile(Path.Combine(root, "safetensors", "bf16.safetensors"),
            [("x", [4], [0.5f, 1f, -3f, 7f])], Formats.FloatDType.BF16);

        Directory.CreateDirectory(Path.Combine(root, "workdir-state"));
        using var state = new MemoryStream();
        using (var w = new BinaryWriter(state, Encoding.UTF8, leaveOpen: true))
        {
            w.Write(0x33514E51); // magic
            w.Write(1);          // one finished block
            w.Write(1); w.Write("model.layers.0.self_attn.q_proj"); w.Write(8); w.Write(8); w.Write(0.1); w.Write(0.5);
            w.Write(0); w.Write(0); w.Write(0); w.Write(false);
            w.Write(1); w.Write(0); for (int i = 0; i < 6; i++) w.Write(0.25 * i);
            for (int set = 0; set < 2; set++)
            {
                w.Write(1); w.Write(4 * 8);
                for (int i = 0; i < 32; i++) w.Write(Next());
            }
        }
        using var block = new MemoryStream();
        using (var w = new BinaryWriter(block, Encoding.UTF8, leaveOpen: true))
        {
            for (int norm = 0; norm < 2; norm++) { w.Write(8); for (int i = 0; i < 8; i++) w.Write(1f); }
            foreach (var linear in BlockLinears.All)
            {
                var (rows, cols) = linear.Shape(TinyConfig);
                w.Write(rows); w.Write(cols);
                for (int i = 0; i < rows * cols; i++) w.Write((byte)random.Next(16));
                for (int i = 0; i < rows; i++) w.Write(0.0625f); // exact in fp16, as stored scales are
                for (int i = 0; i < rows; i++) w.Write(8);
            }
            w.Write(true); // the K-quant fit's inputs: W', ranges (per channel: one group a row), then input energy
            foreach (var linear in BlockLinears.All)
            {
                var (rows, cols) = linear.Shape(TinyConfig);
                w.Write(rows * cols); for (int i = 0; i < rows * cols; i++) w.Write(Next());
                for (int bound = 0; bound < 2; bound++) { w.Write(rows); for (int i = 0; i < rows; i++) w.Write(0.5f * (2 * bound - 1)); }
            }
            w.Write(true);
            foreach (var linear in BlockLinears.All)
            {
                int cols = linear.Shape(TinyConfig).Columns;
                w.Write(cols); for (int i = 0; i < cols; i++) w.Write(1f);
            }
        }
        var seed = new byte[4];
        BinaryPrimitives.WriteInt32LittleEndian(seed, (int)state.Length);
        File.WriteAllBytes(Path.Combine(root, "workdir-state", "one-block.bin"), [.. seed, .. state.ToArray(), .. block.ToArray()]);
    }
}
