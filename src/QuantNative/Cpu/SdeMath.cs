using System.Numerics;
using System.Numerics.Tensors;

namespace QuantNative.Cpu;

/// <summary>
/// The two products of SDE (DESIGN.md §7.6), generic over float (the training path) and double (the finite-difference
/// reference), with the factors as the SVD gives them: Uᵀ [a, rows] and Vᵀ [a, cols], a = the mask's active
/// directions, E compact (one value per mask entry, <see cref="SdeMaskLayout"/>'s order).
/// <list type="bullet">
/// <item>Compose: W' = W + U·(M⊙E)·Vᵀ as A = U·(M⊙E) built column by column from the mask's entries only
/// (Aᵀ row j = Σ_i E_ij·Uᵀ row i: rows·entries multiply-adds, rows·r·(2b+1) for a band), then one GEMM W' += A·Vᵀ.
/// With E = 0 every added product is an exact zero, so W' is W bit for bit.</item>
/// <item>Gradient: dE = M ⊙ (Uᵀ·G·V) with G = dL/dW'. One GEMM Tᵀ = Vᵀ·Gᵀ [a, rows], then only the masked entries
/// dE_ij = ⟨Uᵀ row i, Tᵀ row j⟩: the full a×a product Uᵀ·T is never formed.</item>
/// </list>
/// </summary>
public static class SdeMath
{
    /// <param name="wPrime">W' [rows, cols], written.</param>
    /// <param name="at">Scratch for Aᵀ [a, rows].</param>
    public static void Compose<T>(T[] wPrime, T[] at, T[] w, T[] ut, T[] vt, SdeMaskLayout mask, T[] e, int rows,
        int cols) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int a = mask.Active;
        Check(mask, e.Length, rows, cols, ut, vt);
        Columns(at, ut, e, mask.Rows, mask.ColumnStarts(), a, rows);
        Array.Copy(w, wPrime, (long)rows * cols);
        Gemm.Dense(true, false, at.AsSpan(0, a * rows), vt.AsSpan(0, a * cols), wPrime.AsSpan(0, rows * cols), rows,
            cols, a, T.One, accumulate: true);
    }

    /// <param name="dE">dL/dE, one value per mask entry, overwritten.</param>
    /// <param name="tt">Scratch for Tᵀ = Vᵀ·Gᵀ [a, rows].</param>
    /// <param name="dWPrime">G = dL/dW' [rows, cols].</param>
    public static void Gradient<T>(T[] dE, T[] tt, T[] dWPrime, T[] ut, T[] vt, SdeMaskLayout mask, int rows, int cols)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int a = mask.Active;
        Check(mask, dE.Length, rows, cols, ut, vt);
        Gemm.Dense(false, true, vt.AsSpan(0, a * cols), dWPrime.AsSpan(0, rows * cols), tt.AsSpan(0, a * rows), a, rows,
            cols, T.One);
        MaskedDots(dE, ut, tt, mask.Rows, mask.Cols, mask.Count, rows);
    }

    /// <summary>Aᵀ [active, rows] of A = U·(M⊙E): row j = Σ e[p]·Uᵀ row maskRows[p] over column j's entries
    /// [columnStarts[j], columnStarts[j + 1]), from 0 in entry order (the CPU backend's SdeColumns).</summary>
    public static void Columns<T>(T[] at, T[] ut, T[] e, int[] maskRows, int[] columnStarts, int active, int rows)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ParallelRows.For(active, (long)rows * Math.Max(1, columnStarts[active] / Math.Max(1, active)), j =>
        {
            var column = at.AsSpan(j * rows, rows);
            column.Clear();
            for (int p = columnStarts[j]; p < columnStarts[j + 1]; p++)
            {
                T coefficient = e[p];
                var u = ut.AsSpan(maskRows[p] * rows, rows);
                for (int o = 0; o < rows; o++) column[o] += coefficient * u[o];
            }
        });
    }

    /// <summary>dE[p] = ⟨Uᵀ row maskRows[p], Tᵀ row maskCols[p]⟩ for the first <paramref name="entries"/> entries (the CPU
    /// backend's SdeMaskedDot).</summary>
    public static void MaskedDots<T>(T[] dE, T[] ut, T[] tt, int[] maskRows, int[] maskCols, int entries, int rows)
        where T : unmanaged, IFloatingPointIeee754<T> =>
        ParallelRows.For(entries, rows, p =>
            dE[p] = Dot<T>(ut.AsSpan(maskRows[p] * rows, rows), tt.AsSpan(maskCols[p] * rows, rows)));

    private static T Dot<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) == typeof(float))
        {
            float f = TensorPrimitives.Dot(System.Runtime.InteropServices.MemoryMarshal.Cast<T, float>(x),
                System.Runtime.InteropServices.MemoryMarshal.Cast<T, float>(y));
            return T.CreateTruncating(f);
        }
        T sum = T.Zero;
        for (int i = 0; i < x.Length; i++) sum += x[i] * y[i];
        return sum;
    }

    private static void Check<T>(SdeMaskLayout mask, int values, int rows, int cols, T[] ut, T[] vt)
    {
        if (values != mask.Count)
            throw new ArgumentException($"SDE: {values} values for a mask of {mask.Count} entries");
        if (ut.LongLength < (long)mask.Active * rows || vt.LongLength < (long)mask.Active * cols)
            throw new ArgumentException($"SDE: factors hold {ut.Length / Math.Max(1, rows)} / {vt.Length / Math.Max(1, cols)} " +
                                        $"directions, the mask needs {mask.Active}");
    }
}
