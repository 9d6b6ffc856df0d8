using QuantNative.Cuda;

namespace QuantNative.Inference.LowBit;

/// <summary>Output dtype of the low-bit GEMV (the kernel's name suffix).</summary>
public enum LowBitOutput
{
    Float16,
    Float32,
}

/// <summary>
/// The launch configuration of kernels/gemm/lowbit_gemv.cu and the C# side of its stated assumptions: 1 ≤ M ≤ 8,
/// bits ∈ {2, 3, 4}, K % 8 == 0 (x rows are read as 16-byte vectors), the group length a multiple of 32 or the whole
/// row (per-channel), natural group order (guaranteed by <see cref="LowBitRepack"/>), a 16-byte aligned x. Grid: one
/// warp per output column (16 with the tensor-core body, <see cref="DotsOnTensorCores"/>), <see cref="WarpsPerBlock"/>
/// warps per block. A shape that breaks them is refused here with a
/// message naming the kernel and the shape, before anything reaches the device. N and K need not be multiples of any
/// tile: the last chunk of a column is padded in the layout and skipped by the kernel, extra warps exit.
/// </summary>
public static class LowBitGemvLaunch
{
    public const string Family = "gemm";
    public const string KernelF16 = "qn_lowbit_gemv_forward_f16";
    public const string KernelF32 = "qn_lowbit_gemv_forward_f32";
    public const int MaxM = 8;

    /// <summary>
    /// Whether the kernel runs its fp16-pair body (M = 1 at W4, K &lt; 65536: kernels/gemm/lowbit_gemv.cu, "W4, M = 1"),
    /// which rounds each weight to fp16 and sums in fp16 pairs, instead of the float32 one: its results agree with the
    /// reference within a wider bound (the tests' Tolerances.LowBitGemvHalf2SumRel).
    /// </summary>
    public static bool SumsInHalf2(int m, int bits, int k) => m == 1 && bits == 4 && k < 65536;

    /// <summary>
    /// Whether the kernel runs its tensor-core body (M = 1 at W2/W3 when every 128-k step lies in one group:
    /// kernels/gemm/lowbit_gemv.cu, "W2/W3, M = 1", the same rule as its qn_lb_mma_fits), which sums x·(offset + q) in
    /// float32 per step and removes the offsets and the zero point afterwards: its results agree with the reference
    /// within <see cref="Tolerances.LowBitGemvMmaSumRel"/>. Each warp then computes <see cref="MmaColumnsPerWarp"/>
    /// columns instead of one.
    /// </summary>
    public static bool DotsOnTensorCores(int m, int bits, int k, int groupLength) =>
        m == 1 && bits is 2 or 3 && (groupLength % 128 == 0 || groupLength >= k);

    public const int MmaColumnsPerWarp = 16;
    public const int WarpsPerBlock = 4;

    public static string Kernel(LowBitOutput output) => output == LowBitOutput.Float16 ? KernelF16 : KernelF32;

    public static string Shape(LowBitWeights w, int m) =>
        $"x [{m}, {w.K}] · W [{w.N}, {w.K}]ᵀ, W{w.Bits}, group length {w.GroupLength}{(w.Groups == 1 ? " (per-channel)" : "")}";

    public static (Dim3 Grid, Dim3 Block) Plan(string kernel, LowBitWeights w, int m)
    {
        string shape = Shape(w, m);
        if (m < 1 || m > MaxM)
            throw new QuantNativeException(
                $"{kernel} {shape}: M = {m} rows; the memory-bound GEMV takes 1..{MaxM} (larger batches need the " +
                "tensor-core kernel qn_lowbit_mma_forward_*, which LowBitDeviceLinear.Forward picks for them)");
        if (w.Bits is < 2 or > 4)
            throw new QuantNativeException($"{kernel} {shape}: {w.Bits}-bit weights; the kernel takes 2, 3 or 4 bits");
        if (w.K % 8 != 0)
            throw new QuantNativeException(
                $"{kernel} {shape}: K = {w.K} is not a multiple of 8; the kernel reads activation rows as 16-byte " +
                "vectors of 8 fp16 values (pad the input features to a multiple of 8)");
        if (w.GroupLength % 32 != 0 && w.Groups != 1)
            throw new QuantNativeException(
                $"{kernel} {shape}: group length {w.GroupLength} is not a multiple of 32; the kernel loads a scale and " +
                "zero per 32 consecutive inputs (use group sizes 32, 64, 128, ... or per-channel)");
        int columnsPerBlock = WarpsPerBlock * (DotsOnTensorCores(m, w.Bits, w.K, w.GroupLength) ? MmaColumnsPerWarp : 1);
        long blocks = ((long)w.N + columnsPerBlock - 1) / columnsPerBlock;
        if (blocks > int.MaxValue)
            throw new QuantNativeException($"{kernel} {shape}: {blocks} blocks; at most {int.MaxValue}");
        if ((long)m * w.K > int.MaxValue || (long)m * w.N > int.MaxValue)
            throw new QuantNativeException($"{kernel} {shape}: more than {int.MaxValue} activations or outputs");
        return (new Dim3((uint)blocks), new Dim3(32 * WarpsPerBlock));
    }
}
