using QuantNative.Cuda;

namespace QuantNative.Inference.LowBit;

/// <summary>
/// The launch configuration of kernels/gemm/lowbit_mma.cu (the tensor-core low-bit GEMM, for M &gt; 8) and the C# side
/// of its stated assumptions: bits ∈ {2, 3, 4}, K % 8 == 0 (x rows are copied as 16-byte vectors), the group length a
/// multiple of 32 or the whole row (one scale/zero per 32-k half of a stage), natural group order (guaranteed by
/// <see cref="LowBitRepack"/>), a 16-byte aligned x. Block: 128 threads over BM × 64 outputs, BM = 32 (M ≤ 32), 64
/// (M ≤ 64) or 128 — the kernel derives the same BM from M, so the rule lives in <see cref="BlockRows"/> and the
/// kernel's header only. M, N and K need not be multiples of any tile: copies past M, N, K are zero-filled and
/// stores guarded. A shape that breaks them is refused here with a message naming the kernel and the shape. When the
/// grid would leave SMs idle, <see cref="Splits"/> splits K over grid.z (float32 partials, summed by
/// kernels/gemm/lowbit_splitk.cu).
/// </summary>
public static class LowBitMmaLaunch
{
    public const string Family = LowBitGemvLaunch.Family;
    public const string KernelF16 = "qn_lowbit_mma_forward_f16";
    public const string KernelF32 = "qn_lowbit_mma_forward_f32";
    public const string ReduceF16 = "qn_lowbit_splitk_reduce_forward_f16";
    public const string ReduceF32 = "qn_lowbit_splitk_reduce_forward_f32";
    public const int Threads = 128;
    public const int BlockColumns = 64;
    public const int StageK = 64;

    public static string Kernel(LowBitOutput output) => output == LowBitOutput.Float16 ? KernelF16 : KernelF32;

    /// <summary>Rows per block: 32, 64 or 128 (the kernel's MT = BM / 32 m16 tiles per warp).</summary>
    public static int BlockRows(int m) => m <= 32 ? 32 : m <= 64 ? 64 : 128;

    /// <summary>Dynamic shared bytes: two x stages (BM × 64 fp16 each), the fp16 weight tile (64 × 64), two packed
    /// weight stages (64 × 32 bytes) and two stages of scale/zero words (128 × 4 bytes); 46 080 at BM = 128.</summary>
    public static uint SharedBytes(int m) =>
        (uint)(2 * BlockRows(m) * StageK * 2 + BlockColumns * StageK * 2 + 2 * BlockColumns * 32 + 2 * Threads * 4);

    /// <summary>SMs the split-K balance assumes: an H100 SXM's 132 (on a GPU with another count the choice is only
    /// less well balanced, never wrong).</summary>
    public const int AssumedSms = 132;

    /// <summary>
    /// The assumed cost of an SM running a single block, in blocks' worth of issue time: with one warp per scheduler the
    /// barrier, ldmatrix and mma latencies are exposed (kernels/gemm/lowbit_mma.cu, "Design target"); an estimate,
    /// not a measurement.
    /// </summary>
    public const double LoneBlockCost = 1.5;

    /// <summary>Fewest 64-k stages per split (512 k): the pipeline's prologue and the fp32 partials stay small next
    /// to the weight bytes.</summary>
    public const int MinStagesPerSplit = 8;

    public const int MaxSplits = 8;

    /// <summary>A split count must bring the busiest SM's work below this fraction of the best so far.</summary>
    public const double TakeSplitBelow = 7.0 / 8;

    public static string Reduce(LowBitOutput output) => output == LowBitOutput.Float16 ? ReduceF16 : ReduceF32;

    /// <summary>
    /// How many ways to split K (grid.z): the S ≤ min(<see cref="MaxSplits"/>, stages / <see cref="MinStagesPerSplit"/>)
    /// that minimizes the busiest SM's work, max(ceil(blocks·S / <see cref="AssumedSms"/>), <see cref="LoneBlockCost"/>)
    /// blocks × ceil(stages / S) stages each; a larger S is taken only when it cuts that by more than 1/8
    /// (<see cref="TakeSplitBelow"/>: the float32 partials and the reduction are not free). E.g. M = 128, K = 4096: 4
    /// at N = 4096 (64 blocks → 256, two per SM), 2 at N = 11008 (172 blocks, 40 SMs with two → 344, ≤ 3 per SM);
    /// 1 at M = 256, N = 11008 (344 blocks already) and when K is short.
    /// </summary>
    public static int Splits(LowBitWeights w, int m)
    {
        long blocks = ((long)w.N + BlockColumns - 1) / BlockColumns * (((long)m + BlockRows(m) - 1) / BlockRows(m));
        int stages = (w.K + StageK - 1) / StageK;
        int most = Math.Max(1, Math.Min(MaxSplits, stages / MinStagesPerSplit));
        int best = 1;
        double bestCost = double.MaxValue;
        for (int s = 1; s <= most; s++)
        {
            double perSm = Math.Max((blocks * s + AssumedSms - 1) / AssumedSms, LoneBlockCost);
            double cost = perSm * ((stages + s - 1) / s);
            if (cost < bestCost * TakeSplitBelow)
            {
                bestCost = cost;
                best = s;
            }
        }
        return best;
    }

    /// <summary>The launch of <paramref name="kernel"/> for M rows with K split <paramref name="splits"/> ways (grid.z;
    /// then the output is a float32 workspace [splits, M, N] for the reduction).</summary>
    public static (Dim3 Grid, Dim3 Block, uint SharedBytes) Plan(string kernel, LowBitWeights w, int m, int splits = 1)
    {
        string shape = LowBitGemvLaunch.Shape(w, m);
        if (m < 1)
            throw new QuantNativeException($"{kernel} {shape}: M = {m} rows; expected at least 1");
        if (splits < 1 || splits > ushort.MaxValue || (long)splits * m * w.N > int.MaxValue)
            throw new QuantNativeException(
                $"{kernel} {shape}: K split {splits} ways; expected 1..{ushort.MaxValue} with splits·M·N ≤ {int.MaxValue}");
        if (w.Bits is < 2 or > 4)
            throw new QuantNativeException($"{kernel} {shape}: {w.Bits}-bit weights; the kernel takes 2, 3 or 4 bits");
        if (w.K % 8 != 0)
            throw new QuantNativeException(
                $"{kernel} {shape}: K = {w.K} is not a multiple of 8; the kernel copies activation rows as 16-byte " +
                "vectors of 8 fp16 values (pad the input features to a multiple of 8)");
        if (w.GroupLength % 32 != 0 && w.Groups != 1)
            throw new QuantNativeException(
                $"{kernel} {shape}: group length {w.GroupLength} is not a multiple of 32; the kernel takes one scale and " +
                "zero per 32 consecutive inputs (use group sizes 32, 64, 128, ... or per-channel)");
        long columns = ((long)w.N + BlockColumns - 1) / BlockColumns;
        long rows = ((long)m + BlockRows(m) - 1) / BlockRows(m);
        if (columns > int.MaxValue || rows > ushort.MaxValue)
            throw new QuantNativeException(
                $"{kernel} {shape}: a grid of {columns} × {rows} blocks; at most {int.MaxValue} × {ushort.MaxValue}");
        if ((long)m * w.K > int.MaxValue || (long)m * w.N > int.MaxValue)
            throw new QuantNativeException($"{kernel} {shape}: more than {int.MaxValue} activations or outputs");
        return (new Dim3((uint)columns, (uint)rows, (uint)splits), new Dim3(Threads), SharedBytes(m));
    }
}
