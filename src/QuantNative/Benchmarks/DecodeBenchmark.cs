using System.Diagnostics;
using QuantNative.Cpu.Weights;
using QuantNative.Formats;
using QuantNative.Inference;
using QuantNative.Inference.LowBit;
using QuantNative.Model;

namespace QuantNative.Benchmarks;

/// <summary>What one decode benchmark measured.</summary>
public sealed record DecodeResult(string Form, int PromptTokens, int DecodeTokens, double PromptTokensPerSecond,
    double TokensPerSecond, long WeightBytesPerToken, double CopyGbps, int Threads)
{
    /// <summary>Processor time per decoded token, all threads (less sensitive than wall time to other load).</summary>
    public double CpuSecondsPerToken { get; init; }

    /// <summary>Weight bytes read per second while decoding.</summary>
    public double WeightGbps => TokensPerSecond * WeightBytesPerToken / 1e9;

    public double FractionOfCopy => WeightGbps / CopyGbps;
}

/// <summary>
/// Decode speed (`qn bench decode`): a random prompt prefilled in one pass, then tokens decoded one at a time through
/// the KV cache exactly as `qn generate` does (greedy), each run from a fresh session; the median run's tokens/s, the
/// weight bytes one step reads, and the copy bandwidth measured in the same process.
/// </summary>
public static class DecodeBenchmark
{
    /// <param name="engine">the engine to time (a device's, <see cref="Inference.Device.DeviceDecodeEngine"/>); null: the CPU</param>
    /// <param name="device">the device <paramref name="engine"/> runs on: its device-to-device copy bandwidth (read +
    /// write) is the reference then, where the runtime times work (a GPU; the emulator measures the host's copy)</param>
    public static DecodeResult Run(InferenceModel model, int promptTokens, int decodeTokens, int runs, int seed,
        IDecodeEngine? engine = null, Cuda.ICudaRuntime? device = null)
    {
        if (promptTokens < 1 || decodeTokens < 1)
            throw new QuantNativeException($"--prompt-tokens and --tokens must be positive (got {promptTokens}, {decodeTokens})");
        var c = model.Config;
        var random = new Random(seed);
        var prompt = Enumerable.Range(0, promptTokens).Select(_ => random.Next(c.VocabSize)).ToArray();
        double copy = device is { IsEmulated: false } ? GemmBenchmark.CopyBandwidth(device, 256L << 20, 5) : CopyBandwidth.MeasureGbps();
        engine ??= new CpuDecodeEngine(model);
        var prefill = new List<double>();
        var decode = new List<double>();
        var cpu = new List<double>();
        var process = Process.GetCurrentProcess();
        for (int run = 0; run <= runs; run++) // run 0 warms up
        {
            using var session = engine.Open(promptTokens + decodeTokens);
            long start = Stopwatch.GetTimestamp();
            int next = session.ForwardGreedy(prompt);
            double prefillSeconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
            process.Refresh();
            var cpuStart = process.TotalProcessorTime;
            start = Stopwatch.GetTimestamp();
            for (int t = 0; t < decodeTokens; t++)
                next = session.ForwardGreedy([next]);
            double decodeSeconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
            process.Refresh();
            cpu.Add((process.TotalProcessorTime - cpuStart).TotalSeconds / decodeTokens);
            BenchmarkProgress.Report(run == 0 ? "decode warm-up" : "decode runs", run + 1, runs + 1);
            if (run == 0) continue;
            prefill.Add(promptTokens / prefillSeconds);
            decode.Add(decodeTokens / decodeSeconds);
        }
        return new DecodeResult(model.Form, promptTokens, decodeTokens, Median(prefill), Median(decode),
            engine.WeightBytesPerToken, copy, Environment.ProcessorCount) { CpuSecondsPerToken = Median(cpu) };
    }

    private static double Median(List<double> values)
    {
        values.Sort();
        return values.Count % 2 == 1 ? values[values.Count / 2] : (values[values.Count / 2 - 1] + values[values.Count / 2]) / 2;
    }

    /// <summary>
    /// A model of <paramref name="c"/>'s shape held as a checkpoint would hold it, with random values: BF16 tensors
    /// (<paramref name="bits"/> 16) or W2/W3/W4 linears in the low-bit layout with fp16 scales and zeros and a BF16
    /// embedding and head (as a GPTQ checkpoint of a BF16 model keeps them). Only the speed is meaningful.
    /// </summary>
    public static InferenceModel Synthetic(LlamaConfig c, int bits, int group, int seed)
    {
        if (bits is not (2 or 3 or 4 or 16))
            throw new QuantNativeException($"--bits {bits}: expected 2, 3, 4 or 16 (BF16)");
        var random = new Random(seed);
        MappedTensor Bf16(string name, long rows, long columns) =>
            MappedTensor.InMemory(name, FloatDType.BF16, [rows, columns], RandomBf16(random, rows * columns, 1 / Math.Sqrt(columns)));
        ILinearWeights Linear(string name, int rows, int columns) => bits == 16
            ? new MappedLinear(Bf16(name, rows, columns), rows, columns)
            : LowBitCpuLinear.Of(RandomLowBit(random, rows, columns, bits, group), name);
        var blocks = new IInferenceBlock[c.NumLayers];
        for (int layer = 0; layer < c.NumLayers; layer++)
            blocks[layer] = new InferenceBlock(Ones(c.HiddenSize), Ones(c.HiddenSize), BlockExtras<float[]>.Empty,
                BlockLinears.All.ToDictionary(l => l.Part, l =>
                {
                    var (rows, columns) = l.Shape(c);
                    return Linear(BlockLinears.Name(layer, l), rows, columns);
                }));
        var embedding = Bf16("model.embed_tokens.weight", c.VocabSize, c.HiddenSize);
        var output = Bf16("lm_head.weight", c.VocabSize, c.HiddenSize);
        return InferenceModel.Of(c, new TokenEmbedding(embedding), blocks, Ones(c.HiddenSize),
            new MappedLinear(output, c.VocabSize, c.HiddenSize), bits == 16 ? "synthetic BF16" : $"synthetic low-bit W{bits} g{group}");
    }

    private static float[] Ones(int n) => Enumerable.Repeat(1f, n).ToArray();

    /// <summary>BF16 bytes of values uniform in ±bound, drawn from a table of 4096 (random enough for timing).</summary>
    private static byte[] RandomBf16(Random random, long count, double bound)
    {
        var table = new ushort[4096];
        for (int i = 0; i < table.Length; i++) table[i] = FloatConversion.ToBFloat16Bits((float)((random.NextDouble() * 2 - 1) * bound));
        var bytes = GC.AllocateUninitializedArray<byte>(checked((int)(count * 2)));
        var values = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, ushort>(bytes.AsSpan());
        var indices = new byte[values.Length < 1 << 20 ? values.Length : 1 << 20];
        for (int i = 0; i < values.Length; i += indices.Length)
        {
            random.NextBytes(indices);
            int n = Math.Min(indices.Length, values.Length - i);
            for (int j = 0; j < n; j++) values[i + j] = table[(indices[j] * 16 + j) & 4095];
        }
        return bytes;
    }

    private static LowBitWeights RandomLowBit(Random random, int n, int k, int bits, int group)
    {
        int groupLength = group > 0 ? group : k;
        int groups = (k + groupLength - 1) / groupLength;
        var qweight = new uint[LowBitWeights.QWeightWords(n, k, bits)];
        random.NextBytes(System.Runtime.InteropServices.MemoryMarshal.AsBytes(qweight.AsSpan()));
        var scaleZero = new uint[(long)groups * n];
        ushort zero = BitConverter.HalfToUInt16Bits((Half)((1 << bits) / 2));
        for (long i = 0; i < scaleZero.Length; i++)
            scaleZero[i] = BitConverter.HalfToUInt16Bits((Half)(0.005 + 0.01 * random.NextDouble())) | ((uint)zero << 16);
        return new LowBitWeights
        {
            Bits = bits, K = k, N = n, GroupSize = group, Symmetric = false, GroupLength = groupLength,
            QWeight = qweight, ScaleZero = scaleZero,
        };
    }
}
