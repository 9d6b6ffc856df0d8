using System.Numerics;
using System.Numerics.Tensors;

namespace QuantNative.Cpu;

/// <summary>
/// A linear layer y = x·Wᵀ with W [out, in] (DESIGN.md §7), forward and backward, as GEMMs (sgemm for float,
/// dgemm for double). The weight is an input like any other: during training it is the fake-quantized weight.
/// </summary>
public static class Linear
{
    /// <summary>y [rows, out] = x [rows, in]·Wᵀ, added to y when <paramref name="accumulate"/> (a residual).</summary>
    public static void Forward<T>(T[] y, T[] x, T[] weight, int rows, int outDim, int inDim, bool accumulate = false)
        where T : unmanaged, IFloatingPointIeee754<T>
        => Gemm.MatMulTransB<T>(x, weight, y, rows, outDim, inDim, accumulate);

    /// <summary>
    /// y [rows, cols] += bias [cols] on every row (Qwen2's q/k/v biases), after <see cref="Forward{T}"/>: a separate
    /// pass rather than a GEMM with beta = 1 over a broadcast bias, so the GEMM stays the one every model runs. One
    /// add per element, which the CUDA kernel repeats bit for bit. The bias's gradient (the column sums of dy) is not
    /// here: the quantization methods keep biases fixed, and dy passes through the add unchanged.
    /// </summary>
    public static void AddBias<T>(T[] y, T[] bias, int rows, int cols) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var b = bias.AsSpan(0, cols);
        for (int r = 0; r < rows; r++)
        {
            var row = y.AsSpan(r * cols, cols);
            TensorPrimitives.Add(row, b, row);
        }
    }

    /// <summary>
    /// dx [rows, in] = dy·W (added when <paramref name="accumulateInput"/>: one input feeding several layers) and
    /// dW [out, in] = dyᵀ·x (added when <paramref name="accumulateParameters"/>). Either may be null when not wanted.
    /// </summary>
    public static void Backward<T>(T[]? dx, T[]? dWeight, T[] dy, T[] x, T[] weight, int rows, int outDim, int inDim,
        bool accumulateInput = false, bool accumulateParameters = false) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (dx != null)
            Gemm.Dense<T>(false, false, dy, weight, dx, rows, inDim, outDim, T.One, accumulateInput);
        if (dWeight != null)
            Gemm.Dense<T>(true, false, dy, x, dWeight, outDim, inDim, rows, T.One, accumulateParameters);
    }
}
