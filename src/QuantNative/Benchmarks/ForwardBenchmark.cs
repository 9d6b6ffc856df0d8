using QuantNative.Cpu;
using QuantNative.Model;

namespace QuantNative.Benchmarks;

/// <summary>
/// `qn bench forward`: one synthetic block's forward over T tokens, next to this machine's OpenBLAS sgemm on the
/// block's largest GEMM shape, measured by the same process. The block's FLOPs count its seven GEMMs plus causal
/// attention (QKᵀ and P·V over the lower triangle); the elementwise work is not counted, so it can only lower the ratio.
/// </summary>
public static class ForwardBenchmark
{
    public sealed record Result(LlamaConfig Config, int Tokens, Measurement Sgemm, Measurement Block)
    {
        public double Ratio => Block.GFlops / Sgemm.GFlops;
    }

    public static LlamaConfig SevenB(int tokens) =>
        new(4096, 11008, 1, 32, 32, 32000, Math.Max(tokens, 2048), 1e-5f, 10000f, false);

    public static double BlockFlops(LlamaConfig c, int t)
    {
        double d = c.HiddenSize, kv = c.KvDim, f = c.IntermediateSize;
        double linear = 2.0 * t * d * (2 * d + 2 * kv) + 2.0 * t * 3 * d * f;
        double attention = 2.0 * c.NumHeads * c.HeadDim * t * (t + 1.0); // two GEMMs over t(t+1)/2 pairs
        return linear + attention;
    }

    public static Result Run(LlamaConfig c, int tokens, int runs, int seed)
    {
        var weights = SyntheticBlock.Create(c, seed);
        var random = new Random(seed + 1);
        var input = SyntheticBlock.Uniform(random, tokens, c.HiddenSize);
        var x = new float[input.Length];
        var ws = new BlockWorkspace(c, tokens);
        var rope = new Rope(c.HeadDim, tokens, c.Rope);
        var kCache = new float[(long)tokens * c.KvDim];
        var vCache = new float[(long)tokens * c.KvDim];

        int d = c.HiddenSize, f = c.IntermediateSize;
        var gemmOut = new float[(long)tokens * f];
        var sgemm = Measurement.Of($"sgemm {tokens}x{f}x{d}", 2.0 * tokens * f * d, runs,
            () => Gemm.MatMulTransB(input, weights.WGate, gemmOut, tokens, f, d));
        var block = Measurement.Of($"block forward T={tokens}", BlockFlops(c, tokens), runs, () =>
        {
            input.CopyTo(x, 0);
            BlockForward.Forward(x, weights, c, rope, kCache, vCache, 0, tokens, ws);
        });
        return new Result(c, tokens, sgemm, block);
    }
}
