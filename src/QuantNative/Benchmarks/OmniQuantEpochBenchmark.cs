using QuantNative.Formats;
using QuantNative.Formats.Gptq;
using QuantNative.Model;
using QuantNative.Model.Quantized;
using QuantNative.Quantization.Learned;

namespace QuantNative.Benchmarks;

/// <summary>
/// `qn bench omniquant`: the real OmniQuant loop (LWC forward of the seven linears, block forward and hand-written
/// backward, LWC backward, AdamW, then the commit) on one synthetic block of a given shape, with random calibration
/// windows, next to sgemm measured in the same process. Reports seconds per epoch and the GFLOP/s of the block's
/// GEMM work per epoch (3× the forward's FLOPs per window); the LWC and AdamW work is not counted, so it can only
/// lower the ratio.
/// </summary>
public static class OmniQuantEpochBenchmark
{
    public sealed record Result(LlamaConfig Config, int Windows, int Tokens, int Epochs, Measurement Sgemm,
        double SecondsPerEpoch, double BlockSeconds, double InitialLoss, double FinalLoss, long PeakBytes)
    {
        public double EpochGFlops => Windows * TrainingStepBenchmark.StepFlops(Config, Tokens) / SecondsPerEpoch / 1e9;
        public double Ratio => EpochGFlops / Sgemm.GFlops;
    }

    public static Result Run(LlamaConfig c, int windows, int tokens, int epochs, QuantizerConfig quantizer, int seed,
        Action<long, long, string>? progress = null)
    {
        if (windows < 1) throw new QuantNativeException($"--windows must be positive (got {windows})");
        if (epochs < 1) throw new QuantNativeException($"--epochs must be at least 1 for a timing (got {epochs})");
        var random = new Random(seed);
        var block = SyntheticBlock.Create(c, seed);
        var embedding = SyntheticBlock.Uniform(random, c.VocabSize, c.HiddenSize);
        var output = c.TieWordEmbeddings ? null : SyntheticBlock.Uniform(random, c.VocabSize, c.HiddenSize);
        var source = new InMemoryModelSource(c, embedding, [block], Enumerable.Repeat(1f, c.HiddenSize).ToArray(), output,
            "(synthetic block)");
        var calibration = Enumerable.Range(0, windows)
            .Select(_ => Enumerable.Range(0, tokens).Select(_ => random.Next(c.VocabSize)).ToArray()).ToArray();

        var input = SyntheticBlock.Uniform(random, tokens, c.HiddenSize);
        var product = new float[(long)tokens * c.IntermediateSize];
        var sgemm = Measurement.Of($"sgemm {tokens}x{c.IntermediateSize}x{c.HiddenSize}",
            2.0 * tokens * c.IntermediateSize * c.HiddenSize, 3,
            () => Cpu.Gemm.MatMulTransB(input, block.WGate, product, tokens, c.IntermediateSize, c.HiddenSize));

        var result = LearnedQuantizer.Run(source, calibration, quantizer, GptqCheckpointFormat.V2,
            new LearnedOptions { Epochs = epochs, Seed = seed }, progress);
        var report = result.Learned ?? throw new InvalidOperationException("the OmniQuant loop returned no report");
        var loss = report.Blocks[0];
        return new Result(c, windows, tokens, epochs, sgemm, loss.SecondsPerEpoch, loss.Seconds, loss.Initial,
            loss.Final, report.PeakBytes);
    }
}
