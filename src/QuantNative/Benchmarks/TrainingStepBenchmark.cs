using QuantNative.Cpu;
using QuantNative.Model;
using QuantNative.Training;

namespace QuantNative.Benchmarks;

/// <summary>
/// One synthetic block's training step on the CPU in float: <see cref="TrainingBlock.Forward"/> then
/// <see cref="TrainingBlock.Backward"/> over one window of T tokens (dx and every dW), next to this machine's
/// OpenBLAS sgemm on the block's largest GEMM shape, measured by the same process. FLOPs: the forward's
/// (<see cref="ForwardBenchmark.BlockFlops"/>: seven GEMMs and causal attention) and twice that for the backward
/// (each GEMM has an input-gradient and a weight-gradient GEMM; attention's backward has four GEMMs, dV, dP, dQ,
/// dK, against the forward's two). The backward's recomputation of the attention scores and the elementwise work
/// are not counted, so they can only lower the ratio.
/// </summary>
public static class TrainingStepBenchmark
{
    public sealed record Result(LlamaConfig Config, int Tokens, Measurement Sgemm, Measurement Forward,
        Measurement Backward, Measurement Step, long SavedBytes)
    {
        /// <summary>The step's throughput as a fraction of sgemm's (the goal: ≥ 60% at the 7B shape).</summary>
        public double Ratio => Step.GFlops / Sgemm.GFlops;
    }

    public static double StepFlops(LlamaConfig c, int tokens) => 3 * ForwardBenchmark.BlockFlops(c, tokens);

    public static Result Run(LlamaConfig c, int tokens, int runs, int seed)
    {
        var w = BlockTensors<float>.From(SyntheticBlock.Create(c, seed));
        var dW = BlockTensors<float>.Zeros(c);
        var random = new Random(seed + 1);
        var x = SyntheticBlock.Uniform(random, tokens, c.HiddenSize);
        var dy = SyntheticBlock.Uniform(random, tokens, c.HiddenSize);
        var y = new float[x.Length];
        var dx = new float[x.Length];
        var saved = new BlockActivations<float>(c, tokens);
        var ws = new BlockGradientWorkspace<float>(c, tokens);
        var rope = new Rope(c.HeadDim, tokens, c.Rope);

        int d = c.HiddenSize, f = c.IntermediateSize;
        var gemmOut = new float[(long)tokens * f];
        var sgemm = Measurement.Of($"sgemm {tokens}x{f}x{d}", 2.0 * tokens * f * d, runs,
            () => Gemm.MatMulTransB<float>(x, w.WGate, gemmOut, tokens, f, d));
        double forwardFlops = ForwardBenchmark.BlockFlops(c, tokens);
        var forward = Measurement.Of($"training forward T={tokens}", forwardFlops, runs,
            () => TrainingBlock.Forward(y, saved, x, w, c, rope, tokens));
        // The saved state of the last forward stays valid: the backward only reads it.
        var backward = Measurement.Of($"backward T={tokens}", 2 * forwardFlops, runs,
            () => TrainingBlock.Backward(dx, dW, dy, saved, w, c, rope, ws));
        var step = Measurement.Of($"forward+backward T={tokens}", StepFlops(c, tokens), runs, () =>
        {
            TrainingBlock.Forward(y, saved, x, w, c, rope, tokens);
            TrainingBlock.Backward(dx, dW, dy, saved, w, c, rope, ws);
        });
        return new Result(c, tokens, sgemm, forward, backward, step,
            BlockActivations<float>.ValuesPerWindow(c, tokens) * sizeof(float));
    }
}
