using System.Numerics.Tensors;
using QuantNative.Cpu;
using QuantNative.Model.Quantized;

namespace QuantNative.Quantization.Gptq;

/// <summary>
/// GPTQ on one linear layer (DESIGN.md §7.2; Frantar et al. 2022): quantize the input columns one at a time and push
/// each column's rounding error onto the columns not yet quantized, weighted by the inverse Hessian of the layer's
/// calibration inputs, so the layer's output (not its weights) stays close. Columns are processed in blocks of 128:
/// inside a block the updates are rank-1, and the block's accumulated error reaches the later columns in one GEMM.
/// <para>
/// Work happens on Wᵀ [in, out] so a column of W is contiguous. H and its factor are float64 (LAPACKE); weights and
/// updates are float32, as in the reference code.
/// </para>
/// <para>
/// Group parameters are computed when a group starts, by default from the weights as they are at that moment: every
/// error of the columns already quantized applied, including those of the current block that have not yet been
/// pushed to columns past the block end (§7.2). GPTQ's reference code instead reads the weights as of the block start;
/// <see cref="GptqOptions.GroupParamsFromBlockStart"/> selects that. Per-channel is one group that starts at column 0,
/// so its parameters come from W with dead columns zeroed.
/// </para>
/// </summary>
public static unsafe class GptqQuantizer
{
    public static GptqResult Quantize(ReadOnlySpan<float> weights, int rows, int columns, HessianAccumulator hessian,
        QuantizerConfig config, GptqOptions? options = null, string tensor = "weight")
    {
        if (hessian.Columns != columns)
            throw new QuantNativeException(
                $"{tensor}: {columns} input columns, but the Hessian was accumulated over {hessian.Columns} ({hessian.Layer})");
        // Hessian() is a fresh copy, ours to overwrite: no second [in, in] float64 copy (969 MB for a 7B down_proj).
        return QuantizeInPlace(weights, rows, columns, hessian.Hessian(), config, options, tensor);
    }

    /// <param name="hessian">H = 2·XᵀX/n, row-major [columns, columns]; not modified.</param>
    public static GptqResult Quantize(ReadOnlySpan<float> weights, int rows, int columns, double[] hessian,
        QuantizerConfig config, GptqOptions? options = null, string tensor = "weight") =>
        QuantizeInPlace(weights, rows, columns, (double[])hessian.Clone(), config, options, tensor);

    /// <param name="hessian">H as above, overwritten (dampened, factored).</param>
    private static GptqResult QuantizeInPlace(ReadOnlySpan<float> weights, int rows, int columns, double[] hessian,
        QuantizerConfig config, GptqOptions? options, string tensor)
    {
        options ??= new GptqOptions();
        options.Validate();
        WeightChecks.Require(weights, rows, columns, tensor);
        if (hessian.Length != (long)columns * columns)
            throw new QuantNativeException(
                $"{tensor}: Hessian of {hessian.Length} values: expected [{columns}, {columns}] = {(long)columns * columns}");
        foreach (double v in hessian)
            if (!double.IsFinite(v))
                throw new QuantNativeException($"{tensor}: the Hessian holds {v}: expected finite values");

        var h = hessian;
        var wt = Transpose(weights, rows, columns);
        int dead = ZeroDeadColumns(h, wt, rows, columns);
        var layout = config.Layout(columns);
        (float[] Scale, int[] Zero)? staticParams = options.StaticGroups ? StaticGroupParams(wt, rows, layout, config) : null;

        var perm = Enumerable.Range(0, columns).ToArray();
        if (options.ActOrder)
        {
            // Stable: equal H_ii keep their natural order, so a Hessian ∝ I leaves the order alone.
            perm = perm.OrderByDescending(j => h[(long)j * columns + j]).ToArray();
            wt = PermuteRows(wt, rows, perm);
            h = PermuteSymmetric(h, columns, perm);
        }

        Dampen(h, columns, options.DampPercent);
        InverseHessianFactor.UpperOfInverseInPlace(h, columns, tensor);

        var state = new Walk(wt, h, rows, columns, layout, config, options.BlockSize, perm, staticParams,
            options.GroupParamsFromBlockStart);
        state.Run();

        var matrix = new QuantizedMatrix(rows, columns, config, state.Codes, state.Scales, state.Zeros, state.GroupIndex, tensor);
        double relative = RelativeError(weights, matrix.Dequantize());
        return new GptqResult(matrix, relative, state.Loss, dead, options.ActOrder ? perm : null);
    }

    /// <summary>‖W − Ŵ‖/‖W‖ (Frobenius), in float64; for an all-zero W, the absolute ‖Ŵ‖ (0 when both are zero).</summary>
    public static double RelativeError(ReadOnlySpan<float> w, ReadOnlySpan<float> wq)
    {
        double num = 0, den = 0;
        for (int i = 0; i < w.Length; i++)
        {
            double d = (double)w[i] - wq[i];
            num += d * d;
            den += (double)w[i] * w[i];
        }
        return den == 0 ? Math.Sqrt(num) : Math.Sqrt(num / den);
    }

    /// <summary>The column walk: state shared by the blocks, outputs in natural column order.</summary>
    private sealed class Walk(float[] wt, double[] u, int rows, int columns, GroupLayout layout, QuantizerConfig config,
        int blockSize, int[] perm, (float[] Scale, int[] Zero)? staticParams, bool groupParamsFromBlockStart)
    {
        public readonly byte[] Codes = new byte[rows * columns];
        public readonly float[] Scales = new float[rows * layout.Groups];
        public readonly int[] Zeros = new int[rows * layout.Groups];
        public readonly int[] GroupIndex = new int[columns];
        public double Loss;

        private readonly float[] _scale = new float[rows];
        private readonly int[] _zero = new int[rows];
        private readonly float[] _err = new float[Math.Min(blockSize, columns) * rows];
        private readonly float[] _uBlock = new float[Math.Min(blockSize, columns) * columns];
        private readonly float[] _pending = new float[rows];
        private readonly float[] _min = new float[rows];
        private readonly float[] _max = new float[rows];
        private readonly float[] _blockStart = groupParamsFromBlockStart ? new float[Math.Min(blockSize, columns) * rows] : [];
        private int _i1, _i2, _uStride;

        public void Run()
        {
            for (_i1 = 0; _i1 < columns; _i1 = _i2)
            {
                _i2 = Math.Min(_i1 + blockSize, columns);
                LoadFactorRows();
                if (groupParamsFromBlockStart) wt.AsSpan(_i1 * rows, (_i2 - _i1) * rows).CopyTo(_blockStart);
                for (int j = _i1; j < _i2; j++) QuantizeColumn(j);
                PushBlockError();
            }
        }

        /// <summary>U[i1..i2, i1..] as float32 [count, columns − i1]: what this block's updates read.</summary>
        private void LoadFactorRows()
        {
            _uStride = columns - _i1;
            for (int m = _i1; m < _i2; m++)
            {
                int to = (m - _i1) * _uStride;
                long from = (long)m * columns;
                // Only the upper triangle is U; the strict lower part of the LAPACK buffer is scratch.
                for (int k = _i1; k < m; k++) _uBlock[to + k - _i1] = 0f;
                for (int k = m; k < columns; k++) _uBlock[to + k - _i1] = (float)u[from + k];
            }
        }

        private float U(int m, int k) => _uBlock[(m - _i1) * _uStride + (k - _i1)];

        private void QuantizeColumn(int j)
        {
            int original = perm[j];
            int group;
            if (staticParams is { } sp)
            {
                group = layout.GroupOf(original);
                sp.Scale.AsSpan(group * rows, rows).CopyTo(_scale);
                sp.Zero.AsSpan(group * rows, rows).CopyTo(_zero);
                StoreParams(group);
            }
            else
            {
                group = j / layout.Length;
                if (j % layout.Length == 0)
                {
                    CurrentGroupParams(j, Math.Min(j + layout.Length, columns));
                    StoreParams(group);
                }
            }
            GroupIndex[original] = group;

            var w = wt.AsSpan(j * rows, rows);
            var e = _err.AsSpan((j - _i1) * rows, rows);
            float d = U(j, j);
            int qmax = config.MaxCode;
            double loss = 0;
            for (int r = 0; r < rows; r++)
            {
                int code = UniformQuantizer.Quantize(w[r], _scale[r], _zero[r], qmax);
                Codes[r * columns + original] = (byte)code;
                float diff = w[r] - UniformQuantizer.Dequantize(code, _scale[r], _zero[r]);
                loss += (double)diff * diff;
                e[r] = diff / d;
            }
            Loss += loss / (2.0 * d * d);
            // The rest of the block absorbs this column's error now; later blocks get it in PushBlockError.
            for (int k = j + 1; k < _i2; k++)
            {
                var wk = wt.AsSpan(k * rows, rows);
                TensorPrimitives.MultiplyAdd(e, -U(j, k), wk, wk);
            }
        }

        /// <summary>W[:, i2:] −= Err·U[i1:i2, i2:], i.e. Wᵀ[i2:, :] −= U[i1:i2, i2:]ᵀ·Err.</summary>
        private void PushBlockError()
        {
            int rest = columns - _i2, count = _i2 - _i1;
            if (rest == 0) return;
            fixed (float* pu = _uBlock) fixed (float* pe = _err) fixed (float* pw = wt)
                Gemm.Strided(transA: true, transB: false, rest, rows, count, -1f,
                    pu + (_i2 - _i1), _uStride, pe, rows, 1f, pw + (long)_i2 * rows, rows);
        }

        /// <summary>
        /// Parameters of the group at positions [start, end) from the current weights. Positions past the block end
        /// have not received this block's errors yet: they are applied here, to a copy, for the min/max only. With
        /// block-start parameters, positions in the block read the copy taken when the block started instead.
        /// </summary>
        private void CurrentGroupParams(int start, int end)
        {
            Array.Clear(_min);
            Array.Clear(_max);
            for (int k = start; k < end; k++)
            {
                ReadOnlySpan<float> column = groupParamsFromBlockStart && k < _i2
                    ? _blockStart.AsSpan((k - _i1) * rows, rows)
                    : wt.AsSpan(k * rows, rows);
                if (k >= _i2 && !groupParamsFromBlockStart)
                {
                    column.CopyTo(_pending);
                    for (int m = _i1; m < start; m++)
                        TensorPrimitives.MultiplyAdd(_err.AsSpan((m - _i1) * rows, rows), -U(m, k), _pending, _pending);
                    column = _pending;
                }
                TensorPrimitives.Min(_min, column, _min);
                TensorPrimitives.Max(_max, column, _max);
            }
            for (int r = 0; r < rows; r++) (_scale[r], _zero[r]) = UniformQuantizer.Params(_min[r], _max[r], config);
        }

        private void StoreParams(int group)
        {
            for (int r = 0; r < rows; r++)
            {
                Scales[r * layout.Groups + group] = _scale[r];
                Zeros[r * layout.Groups + group] = _zero[r];
            }
        }
    }

    private static float[] Transpose(ReadOnlySpan<float> w, int rows, int columns)
    {
        var t = new float[w.Length];
        for (int r = 0; r < rows; r++)
        for (int c = 0; c < columns; c++)
            t[c * rows + r] = w[r * columns + c];
        return t;
    }

    /// <summary>Inputs never active in calibration (H_ii = 0): H_ii = 1 so H stays invertible, and their weights 0.</summary>
    private static int ZeroDeadColumns(double[] h, float[] wt, int rows, int columns)
    {
        int dead = 0;
        for (int j = 0; j < columns; j++)
        {
            if (h[(long)j * columns + j] != 0) continue;
            h[(long)j * columns + j] = 1;
            wt.AsSpan(j * rows, rows).Clear();
            dead++;
        }
        return dead;
    }

    /// <summary>Parameters of every natural-order group from the weights before any update, [groups, rows] each.</summary>
    private static (float[] Scale, int[] Zero) StaticGroupParams(float[] wt, int rows, GroupLayout layout, QuantizerConfig config)
    {
        var scale = new float[layout.Groups * rows];
        var zero = new int[layout.Groups * rows];
        var min = new float[rows];
        var max = new float[rows];
        for (int g = 0; g < layout.Groups; g++)
        {
            Array.Clear(min);
            Array.Clear(max);
            for (int c = layout.StartOf(g); c < layout.StartOf(g) + layout.LengthOf(g); c++)
            {
                var column = wt.AsSpan(c * rows, rows);
                TensorPrimitives.Min(min, column, min);
                TensorPrimitives.Max(max, column, max);
            }
            for (int r = 0; r < rows; r++)
                (scale[g * rows + r], zero[g * rows + r]) = UniformQuantizer.Params(min[r], max[r], config);
        }
        return (scale, zero);
    }

    private static float[] PermuteRows(float[] wt, int rows, int[] perm)
    {
        var p = new float[wt.Length];
        for (int j = 0; j < perm.Length; j++) wt.AsSpan(perm[j] * rows, rows).CopyTo(p.AsSpan(j * rows, rows));
        return p;
    }

    private static double[] PermuteSymmetric(double[] h, int n, int[] perm)
    {
        var p = new double[h.Length];
        for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
            p[(long)i * n + j] = h[(long)perm[i] * n + perm[j]];
        return p;
    }

    private static void Dampen(double[] h, int n, double fraction)
    {
        double mean = 0;
        for (int i = 0; i < n; i++) mean += h[(long)i * n + i];
        double damp = fraction * mean / n;
        for (int i = 0; i < n; i++) h[(long)i * n + i] += damp;
    }
}
