namespace QuantNative.Formats.Gguf;

/// <summary>
/// ggml's K-quants (256-element super-blocks, ggml-common.h): Q2_K and Q4_K/Q5_K (sub-block scale and min, x = d·q − m),
/// Q3_K and Q6_K (signed, x = d·q). <see cref="Quantize"/> is quantize_row_q*_K_ref of ggml-quants.c (what
/// llama-quantize writes without an importance matrix) with one optional change: a starting range per sub-block
/// (<paramref name="range"/>), which replaces the sub-block's own min/max as the point the search starts from and
/// scales around — qn passes each group's learned clipping range there, so the search begins where LWC ended.
/// With an importance per column (<paramref name="importance"/>: the calibration inputs' Σx² of each input column,
/// scaled so that its largest value is 1) each sub-block search weighs element i's squared error as llama.cpp's
/// importance-matrix quantizer does (quantize_row_q*_K_impl): imp_i·√(σ² + x_i²), σ² the super-block's mean x² (×2
/// for Q3_K..Q5_K), and imp_i alone for Q6_K — so the search minimises about the error the layer's output sees,
/// Σ_j imp_j·(w_j − q_j)² (the diagonal of XᵀX), not the plain weight error the reference weights (x², |x|,
/// rms + |x|) stand in for. The searches themselves stay the reference ones (with the learned starting range);
/// without an importance nothing changes.
/// <see cref="Dequantize"/> is dequantize_row_q*_K.
/// </summary>
public static class KQuants
{
    public const int SuperBlock = 256;
    private const float GroupMaxEps = 1e-15f;

    /// <summary>A range for the sub-block starting at a column of the row, or null for the data's own.</summary>
    public delegate (float Min, float Max)? RangeOf(int column);

    /// <summary>Quantizes one super-block <paramref name="x"/>[256] (columns <paramref name="column0"/>.. of its row),
    /// weighting each column's error by <paramref name="importance"/>[256] (empty: none, the reference search).</summary>
    /// <param name="keepRange">Q2_K/Q4_K/Q5_K: take each sub-block's scale and min from <paramref name="range"/> as they are
    /// (no search; a learned free-minimum grid), only rounded to the type's sub-block bits.</param>
    public static void Quantize(GgmlType type, ReadOnlySpan<float> x, Span<byte> block, int column0 = 0, RangeOf? range = null,
        ReadOnlySpan<float> importance = default, bool keepRange = false)
    {
        if (!importance.IsEmpty && importance.Length != SuperBlock)
            throw new ArgumentException($"importance of {importance.Length} columns for a super-block of {SuperBlock}", nameof(importance));
        block.Clear();
        switch (type)
        {
            case GgmlType.Q2_K: Q2K(x, block, column0, range, importance, keepRange); break;
            case GgmlType.Q3_K: Q3K(x, block, column0, range, importance); break;
            case GgmlType.Q4_K: Q45K(x, block, 15, column0, range, importance, keepRange); break;
            case GgmlType.Q5_K: Q45K(x, block, 31, column0, range, importance, keepRange); break;
            case GgmlType.Q6_K: Q6K(x, block, column0, range, importance); break;
            default: throw new ArgumentOutOfRangeException(nameof(type), type, "not a K-quant");
        }
    }

    /// <summary>The importance of the n columns of a sub-block at <paramref name="at"/>: empty for none, and empty too
    /// when every column there has importance 0 (no calibration input reached them, so no fit is better than another
    /// for the output and the sub-block keeps the reference search's).</summary>
    private static ReadOnlySpan<float> SubBlock(ReadOnlySpan<float> importance, int at, int n)
    {
        if (importance.IsEmpty) return default;
        var sub = importance.Slice(at, n);
        foreach (float v in sub)
            if (v > 0) return sub;
        return default;
    }

    /// <summary>llama.cpp's importance weights of a sub-block: importance[i]·√(σ² + x[i]²).</summary>
    private static void ImportanceWeights(Span<float> weights, ReadOnlySpan<float> x, ReadOnlySpan<float> importance, float sigma2)
    {
        for (int i = 0; i < importance.Length; i++) weights[i] = importance[i] * MathF.Sqrt(sigma2 + x[i] * x[i]);
    }

    /// <summary>Σx²/256 of a super-block, times <paramref name="factor"/> (llama.cpp's σ²: 1 for Q2_K, 2 for Q3_K..Q5_K).</summary>
    private static float Sigma2(ReadOnlySpan<float> x, float factor)
    {
        float sum = 0;
        foreach (float v in x) sum += v * v;
        return factor * sum / SuperBlock;
    }

    /// <summary>ggml's nearest_int: the float add of 1.5·2²³ rounds to nearest, ties to even.</summary>
    private static int NearestInt(float v) => (int)MathF.Round(v, MidpointRounding.ToEven);

    private static float F16(float v) => Fp16.Round(v);

    // ---------------- Q2_K: 16 sub-blocks of 16, 2-bit codes, 4-bit scale and min per sub-block

    private static void Q2K(ReadOnlySpan<float> x, Span<byte> y, int c0, RangeOf? range, ReadOnlySpan<float> importance,
        bool keepRange)
    {
        Span<byte> l = stackalloc byte[SuperBlock];
        Span<byte> laux = stackalloc byte[16];
        Span<float> weights = stackalloc float[16], mins = stackalloc float[16], scales = stackalloc float[16];
        const float q4scale = 15f;
        float maxScale = 0, maxMin = 0, sigma2 = importance.IsEmpty ? 0 : Sigma2(x, 1);
        for (int j = 0; j < 16; j++)
        {
            var xs = x.Slice(16 * j, 16);
            var imp = SubBlock(importance, 16 * j, 16);
            // The reference search weighs |x|·|error|; llama.cpp's importance path the squared error.
            if (imp.IsEmpty)
                for (int i = 0; i < 16; i++) weights[i] = MathF.Abs(xs[i]);
            else ImportanceWeights(weights, xs, imp, sigma2);
            scales[j] = MakeQkx2(16, 3, xs, weights, l.Slice(16 * j, 16), out mins[j], laux, -0.5f, 0.1f, keepRange ? 0 : 15, imp.IsEmpty, range?.Invoke(c0 + 16 * j));
            maxScale = MathF.Max(maxScale, scales[j]);
            maxMin = MathF.Max(maxMin, mins[j]);
        }
        var sc = y[..16];
        var qs = y.Slice(16, 64);
        float d = 0, dmin = 0;
        if (maxScale > 0)
        {
            float iscale = q4scale / maxScale;
            for (int j = 0; j < 16; j++) sc[j] = (byte)NearestInt(iscale * scales[j]);
            d = F16(maxScale / q4scale);
        }
        if (maxMin > 0)
        {
            float iscale = q4scale / maxMin;
            for (int j = 0; j < 16; j++) sc[j] |= (byte)(NearestInt(iscale * mins[j]) << 4);
            dmin = F16(maxMin / q4scale);
        }
        Fp16.Write(y[80..], d);
        Fp16.Write(y[82..], dmin);
        for (int j = 0; j < 16; j++)
        {
            float dj = d * (sc[j] & 0xF);
            if (dj == 0) continue;
            float dm = dmin * (sc[j] >> 4);
            for (int i = 0; i < 16; i++) l[16 * j + i] = (byte)Math.Clamp(NearestInt((x[16 * j + i] + dm) / dj), 0, 3);
        }
        for (int j = 0; j < SuperBlock; j += 128)
        for (int i = 0; i < 32; i++)
            qs[j / 4 + i] = (byte)(l[j + i] | (l[j + i + 32] << 2) | (l[j + i + 64] << 4) | (l[j + i + 96] << 6));
    }

    // ---------------- Q3_K: 16 sub-blocks of 16, signed 3-bit codes, 6-bit signed scales

    private static void Q3K(ReadOnlySpan<float> x, Span<byte> y, int c0, RangeOf? range, ReadOnlySpan<float> importance)
    {
        Span<sbyte> l = stackalloc sbyte[SuperBlock];
        Span<float> scales = stackalloc float[16], weights = stackalloc float[16];
        var hmask = y[..32];
        var qs = y.Slice(32, 64);
        var sc = y.Slice(96, 12);
        float maxScale = 0, amax = 0, sigma2 = importance.IsEmpty ? 0 : Sigma2(x, 2);
        for (int j = 0; j < 16; j++)
        {
            var xs = x.Slice(16 * j, 16);
            var imp = SubBlock(importance, 16 * j, 16);
            if (!imp.IsEmpty) ImportanceWeights(weights, xs, imp, sigma2);
            scales[j] = MakeQ3(16, 4, xs, l.Slice(16 * j, 16), range?.Invoke(c0 + 16 * j), imp.IsEmpty ? default : weights);
            float a = MathF.Abs(scales[j]);
            if (a > amax) { amax = a; maxScale = scales[j]; }
        }
        float d = 0;
        if (maxScale != 0)
        {
            float iscale = -32f / maxScale;
            for (int j = 0; j < 16; j++)
            {
                int li = (sbyte)NearestInt(iscale * scales[j]);
                li = Math.Clamp(li, -32, 31) + 32;
                if (j < 8) sc[j] = (byte)(li & 0xF);
                else sc[j - 8] |= (byte)((li & 0xF) << 4);
                li >>= 4;
                sc[j % 4 + 8] |= (byte)(li << (2 * (j / 4)));
            }
            d = F16(1 / iscale);
        }
        Fp16.Write(y[108..], d);
        for (int j = 0; j < 16; j++)
        {
            int s = j < 8 ? sc[j] & 0xF : sc[j - 8] >> 4;
            s = (s | (((sc[8 + j % 4] >> (2 * (j / 4))) & 3) << 4)) - 32;
            float dj = d * s;
            if (dj == 0) continue;
            for (int i = 0; i < 16; i++) l[16 * j + i] = (sbyte)(Math.Clamp(NearestInt(x[16 * j + i] / dj), -4, 3) + 4);
        }
        int m = 0;
        byte hm = 1;
        for (int j = 0; j < SuperBlock; j++)
        {
            if (l[j] > 3)
            {
                hmask[m] |= hm;
                l[j] -= 4;
            }
            if (++m == 32) { m = 0; hm <<= 1; }
        }
        for (int j = 0; j < SuperBlock; j += 128)
        for (int i = 0; i < 32; i++)
            qs[j / 4 + i] = (byte)((byte)l[j + i] | ((byte)l[j + i + 32] << 2) | ((byte)l[j + i + 64] << 4) | ((byte)l[j + i + 96] << 6));
    }

    // ---------------- Q4_K / Q5_K: 8 sub-blocks of 32, 4/5-bit codes, 6-bit scale and min

    private static void Q45K(ReadOnlySpan<float> x, Span<byte> y, int nmax, int c0, RangeOf? range, ReadOnlySpan<float> importance,
        bool keepRange)
    {
        bool five = nmax == 31;
        Span<byte> l = stackalloc byte[SuperBlock];
        Span<byte> laux = stackalloc byte[32];
        Span<float> weights = stackalloc float[32], mins = stackalloc float[8], scales = stackalloc float[8];
        float maxScale = 0, maxMin = 0, sigma2 = importance.IsEmpty ? 0 : Sigma2(x, 2);
        for (int j = 0; j < 8; j++)
        {
            var xs = x.Slice(32 * j, 32);
            var imp = SubBlock(importance, 32 * j, 32);
            if (imp.IsEmpty)
            {
                float sumX2 = 0;
                for (int i = 0; i < 32; i++) sumX2 += xs[i] * xs[i];
                float avX = MathF.Sqrt(sumX2 / 32);
                for (int i = 0; i < 32; i++) weights[i] = avX + MathF.Abs(xs[i]);
            }
            else ImportanceWeights(weights, xs, imp, sigma2);
            scales[j] = five
                ? MakeQkx2(32, 31, xs, weights, l.Slice(32 * j, 32), out mins[j], laux, -0.5f, 0.1f, keepRange ? 0 : 15, false, range?.Invoke(c0 + 32 * j))
                : MakeQkx2(32, 15, xs, weights, l.Slice(32 * j, 32), out mins[j], laux, -1f, 0.1f, keepRange ? 0 : 20, false, range?.Invoke(c0 + 32 * j));
            maxScale = MathF.Max(maxScale, scales[j]);
            maxMin = MathF.Max(maxMin, mins[j]);
        }
        var sc = y.Slice(4, 12);
        float invScale = maxScale > 0 ? 63f / maxScale : 0f, invMin = maxMin > 0 ? 63f / maxMin : 0f;
        for (int j = 0; j < 8; j++)
        {
            byte ls = (byte)Math.Min(63, (int)(byte)NearestInt(invScale * scales[j]));
            byte lm = (byte)Math.Min(63, (int)(byte)NearestInt(invMin * mins[j]));
            if (j < 4)
            {
                sc[j] = ls;
                sc[j + 4] = lm;
            }
            else
            {
                sc[j + 4] = (byte)((ls & 0xF) | ((lm & 0xF) << 4));
                sc[j - 4] |= (byte)((ls >> 4) << 6);
                sc[j] |= (byte)((lm >> 4) << 6);
            }
        }
        float d = F16(maxScale / 63f), dmin = F16(maxMin / 63f);
        Fp16.Write(y, d);
        Fp16.Write(y[2..], dmin);
        for (int j = 0; j < 8; j++)
        {
            var (s, m) = ScaleMin(j, sc);
            float dj = d * s;
            if (dj == 0) continue;
            float dm = dmin * m;
            for (int i = 0; i < 32; i++) l[32 * j + i] = (byte)Math.Clamp(NearestInt((x[32 * j + i] + dm) / dj), 0, nmax);
        }
        if (!five)
        {
            var q = y.Slice(16, 128);
            for (int j = 0, o = 0; j < SuperBlock; j += 64, o += 32)
            for (int i = 0; i < 32; i++) q[o + i] = (byte)(l[j + i] | (l[j + i + 32] << 4));
            return;
        }
        var qh = y.Slice(16, 32);
        var ql = y.Slice(48, 128);
        byte m1 = 1, m2 = 2;
        for (int n = 0, o = 0; n < SuperBlock; n += 64, o += 32)
        {
            for (int j = 0; j < 32; j++)
            {
                int l1 = l[n + j], l2 = l[n + j + 32];
                if (l1 > 15) { l1 -= 16; qh[j] |= m1; }
                if (l2 > 15) { l2 -= 16; qh[j] |= m2; }
                ql[o + j] = (byte)(l1 | (l2 << 4));
            }
            m1 <<= 2; m2 <<= 2;
        }
    }

    /// <summary>get_scale_min_k4: the 6-bit scale and min of sub-block j from the 12 packed bytes.</summary>
    private static (int Scale, int Min) ScaleMin(int j, ReadOnlySpan<byte> q) => j < 4
        ? (q[j] & 63, q[j + 4] & 63)
        : ((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4), (q[j + 4] >> 4) | ((q[j] >> 6) << 4));

    // ---------------- Q6_K: 16 sub-blocks of 16, signed 6-bit codes, int8 scales

    private static void Q6K(ReadOnlySpan<float> x, Span<byte> y, int c0, RangeOf? range, ReadOnlySpan<float> importance)
    {
        Span<sbyte> l = stackalloc sbyte[SuperBlock];
        Span<float> scales = stackalloc float[16];
        float maxScale = 0, maxAbs = 0;
        for (int ib = 0; ib < 16; ib++)
        {
            // llama.cpp's Q6_K importance path weighs by the importance alone.
            float s = MakeQx(16, 32, x.Slice(16 * ib, 16), l.Slice(16 * ib, 16), range?.Invoke(c0 + 16 * ib), SubBlock(importance, 16 * ib, 16));
            scales[ib] = s;
            if (MathF.Abs(s) > maxAbs) { maxAbs = MathF.Abs(s); maxScale = s; }
        }
        if (maxAbs < GroupMaxEps) return; // an all-zero block: y stays zero, d = 0
        var ql = y[..128];
        var qh = y.Slice(128, 64);
        var sc = y.Slice(192, 16);
        float iscale = -128f / maxScale;
        float d = F16(1 / iscale);
        Fp16.Write(y[208..], d);
        for (int ib = 0; ib < 16; ib++) sc[ib] = unchecked((byte)(sbyte)Math.Min(127, NearestInt(iscale * scales[ib])));
        for (int j = 0; j < 16; j++)
        {
            float dj = d * (sbyte)sc[j];
            if (dj == 0) continue;
            for (int i = 0; i < 16; i++) l[16 * j + i] = (sbyte)(Math.Clamp(NearestInt(x[16 * j + i] / dj), -32, 31) + 32);
        }
        for (int j = 0, oq = 0, oh = 0; j < SuperBlock; j += 128, oq += 64, oh += 32)
        for (int i = 0; i < 32; i++)
        {
            int q1 = l[j + i] & 0xF, q2 = l[j + i + 32] & 0xF, q3 = l[j + i + 64] & 0xF, q4 = l[j + i + 96] & 0xF;
            ql[oq + i] = (byte)(q1 | (q3 << 4));
            ql[oq + i + 32] = (byte)(q2 | (q4 << 4));
            qh[oh + i] = (byte)((l[j + i] >> 4) | ((l[j + i + 32] >> 4) << 2) | ((l[j + i + 64] >> 4) << 4) | ((l[j + i + 96] >> 4) << 6));
        }
    }

    // ---------------- the searches of ggml-quants.c

    /// <summary>make_qkx2_quants: codes L in [0, nmax] with x ≈ scale·L − theMin, searching nstep scales around the
    /// range (the data's min/max, or <paramref name="start"/>).</summary>
    private static float MakeQkx2(int n, int nmax, ReadOnlySpan<float> x, ReadOnlySpan<float> weights, Span<byte> L,
        out float theMin, Span<byte> laux, float rmin, float rdelta, int nstep, bool useMad, (float Min, float Max)? start)
    {
        float min = x[0], max = x[0], sumW = weights[0], sumX = sumW * x[0];
        for (int i = 1; i < n; i++)
        {
            min = MathF.Min(min, x[i]);
            max = MathF.Max(max, x[i]);
            sumW += weights[i];
            sumX += weights[i] * x[i];
        }
        if (start is { } r && r.Max > r.Min) (min, max) = (r.Min, r.Max);
        if (min > 0) min = 0;
        if (max == min)
        {
            L[..n].Clear();
            theMin = -min;
            return 0f;
        }
        float iscale = nmax / (max - min), scale = 1 / iscale, bestMad = 0;
        for (int i = 0; i < n; i++)
        {
            L[i] = (byte)Math.Clamp(NearestInt(iscale * (x[i] - min)), 0, nmax);
            float diff = scale * L[i] + min - x[i];
            bestMad += weights[i] * (useMad ? MathF.Abs(diff) : diff * diff);
        }
        if (nstep < 1)
        {
            theMin = -min;
            return scale;
        }
        for (int s = 0; s <= nstep; s++)
        {
            iscale = (rmin + rdelta * s + nmax) / (max - min);
            float sumL = 0, sumL2 = 0, sumXl = 0;
            for (int i = 0; i < n; i++)
            {
                int li = Math.Clamp(NearestInt(iscale * (x[i] - min)), 0, nmax);
                laux[i] = (byte)li;
                float w = weights[i];
                sumL += w * li;
                sumL2 += w * li * li;
                sumXl += w * li * x[i];
            }
            float D = sumW * sumL2 - sumL * sumL;
            if (D <= 0) continue;
            float thisScale = (sumW * sumXl - sumX * sumL) / D, thisMin = (sumL2 * sumX - sumL * sumXl) / D;
            if (thisMin > 0)
            {
                thisMin = 0;
                thisScale = sumXl / sumL2;
            }
            float mad = 0;
            for (int i = 0; i < n; i++)
            {
                float diff = thisScale * laux[i] + thisMin - x[i];
                mad += weights[i] * (useMad ? MathF.Abs(diff) : diff * diff);
            }
            if (mad < bestMad)
            {
                laux[..n].CopyTo(L);
                bestMad = mad;
                scale = thisScale;
                min = thisMin;
            }
        }
        theMin = -min;
        return scale;
    }

    /// <summary>The symmetric searches' weight of element i: the reference's x², or the given weights.</summary>
    private static float SquareWeight(ReadOnlySpan<float> x, ReadOnlySpan<float> weights, int i) =>
        weights.IsEmpty ? x[i] * x[i] : weights[i];

    /// <summary>The signed extreme the symmetric searches start from: the data's element of largest magnitude, or
    /// the end of <paramref name="start"/> with the larger magnitude.</summary>
    private static float SignedMax(ReadOnlySpan<float> x, (float Min, float Max)? start)
    {
        if (start is { } r && r.Max > r.Min) return MathF.Abs(r.Max) >= MathF.Abs(r.Min) ? r.Max : r.Min;
        float amax = 0, max = 0;
        foreach (float v in x)
            if (MathF.Abs(v) > amax) { amax = MathF.Abs(v); max = v; }
        return max;
    }

    /// <summary>make_q3_quants with do_rmse: signed codes in [−nmax, nmax), then five rounds of per-element moves
    /// that raise the weighted fit (weights x², or <paramref name="weights"/>). Returns the scale; L holds
    /// codes + nmax.</summary>
    private static float MakeQ3(int n, int nmax, ReadOnlySpan<float> x, Span<sbyte> L, (float Min, float Max)? start,
        ReadOnlySpan<float> weights)
    {
        float max = SignedMax(x, start);
        if (MathF.Abs(max) < GroupMaxEps)
        {
            L[..n].Clear();
            return 0f;
        }
        float iscale = -nmax / max, sumlx = 0, suml2 = 0;
        for (int i = 0; i < n; i++)
        {
            int li = Math.Clamp(NearestInt(iscale * x[i]), -nmax, nmax - 1);
            L[i] = (sbyte)li;
            float w = SquareWeight(x, weights, i);
            sumlx += w * x[i] * li;
            suml2 += w * li * li;
        }
        for (int itry = 0; itry < 5; itry++)
        {
            int changed = 0;
            for (int i = 0; i < n; i++)
            {
                float w = SquareWeight(x, weights, i);
                float slx = sumlx - w * x[i] * L[i];
                if (slx <= 0) continue;
                float sl2 = suml2 - w * L[i] * L[i];
                int newL = Math.Clamp(NearestInt(x[i] * sl2 / slx), -nmax, nmax - 1);
                if (newL == L[i]) continue;
                slx += w * x[i] * newL;
                sl2 += w * newL * newL;
                if (sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2)
                {
                    L[i] = (sbyte)newL;
                    sumlx = slx;
                    suml2 = sl2;
                    changed++;
                }
            }
            if (changed == 0) break;
        }
        for (int i = 0; i < n; i++) L[i] += (sbyte)nmax;
        // suml2 is 0 only when the weights are 0 wherever a code is not (the reference's x² never are at the largest |x|).
        return suml2 > 0 ? sumlx / suml2 : 0f;
    }

    /// <summary>make_qx_quants with rmse_type 1 (weights x², or <paramref name="weights"/>): 19 scales around
    /// −nmax/max.</summary>
    private static float MakeQx(int n, int nmax, ReadOnlySpan<float> x, Span<sbyte> L, (float Min, float Max)? start,
        ReadOnlySpan<float> weights)
    {
        float max = SignedMax(x, start);
        if (MathF.Abs(max) < GroupMaxEps)
        {
            L[..n].Clear();
            return 0f;
        }
        float iscale = -nmax / max, sumlx = 0, suml2 = 0;
        for (int i = 0; i < n; i++)
        {
            int li = Math.Clamp(NearestInt(iscale * x[i]), -nmax, nmax - 1);
            L[i] = (sbyte)(li + nmax);
            float w = SquareWeight(x, weights, i);
            sumlx += w * x[i] * li;
            suml2 += w * li * li;
        }
        float scale = suml2 != 0 ? sumlx / suml2 : 0f, best = scale * sumlx;
        for (int s = -9; s <= 9; s++)
        {
            if (s == 0) continue;
            iscale = -(nmax + 0.1f * s) / max;
            sumlx = suml2 = 0;
            for (int i = 0; i < n; i++)
            {
                int li = Math.Clamp(NearestInt(iscale * x[i]), -nmax, nmax - 1);
                float w = SquareWeight(x, weights, i);
                sumlx += w * x[i] * li;
                suml2 += w * li * li;
            }
            if (suml2 > 0 && sumlx * sumlx > best * suml2)
            {
                for (int i = 0; i < n; i++) L[i] = (sbyte)(nmax + Math.Clamp(NearestInt(iscale * x[i]), -nmax, nmax - 1));
                scale = sumlx / suml2;
                best = scale * sumlx;
            }
        }
        return scale;
    }

    // ---------------- dequantization (dequantize_row_q*_K)

    public static void Dequantize(GgmlType type, ReadOnlySpan<byte> b, Span<float> y)
    {
        switch (type)
        {
            case GgmlType.Q2_K:
            {
                float d = Fp16.Read(b[80..]), min = Fp16.Read(b[82..]);
                var sc = b[..16];
                int o = 0, isc = 0;
                for (int n = 0, qo = 16; n < SuperBlock; n += 128, qo += 32)
                for (int shift = 0; shift < 8; shift += 2)
                for (int half = 0; half < 2; half++)
                {
                    byte s = sc[isc++];
                    float dl = d * (s & 0xF), ml = min * (s >> 4);
                    for (int l = 0; l < 16; l++) y[o++] = dl * ((b[qo + 16 * half + l] >> shift) & 3) - ml;
                }
                break;
            }
            case GgmlType.Q3_K:
            {
                float dAll = Fp16.Read(b[108..]);
                Span<sbyte> scales = stackalloc sbyte[16];
                var raw = b.Slice(96, 12);
                for (int j = 0; j < 16; j++)
                {
                    int s = j < 8 ? raw[j] & 0xF : raw[j - 8] >> 4;
                    scales[j] = (sbyte)(s | (((raw[8 + j % 4] >> (2 * (j / 4))) & 3) << 4));
                }
                int o = 0, isc = 0;
                byte m = 1;
                for (int n = 0, qo = 32; n < SuperBlock; n += 128, qo += 32)
                for (int shift = 0; shift < 8; shift += 2, m <<= 1)
                for (int half = 0; half < 2; half++)
                {
                    float dl = dAll * (scales[isc++] - 32);
                    for (int l = 0; l < 16; l++)
                    {
                        int k = 16 * half + l;
                        y[o++] = dl * (((b[qo + k] >> shift) & 3) - ((b[k] & m) != 0 ? 0 : 4));
                    }
                }
                break;
            }
            case GgmlType.Q4_K:
            case GgmlType.Q5_K:
            {
                bool five = type == GgmlType.Q5_K;
                float d = Fp16.Read(b), min = Fp16.Read(b[2..]);
                var sc = b.Slice(4, 12);
                var qh = b.Slice(16, 32);
                var q = b.Slice(five ? 48 : 16, 128);
                int o = 0;
                byte u1 = 1, u2 = 2;
                for (int j = 0, isc = 0, qo = 0; j < SuperBlock; j += 64, isc += 2, qo += 32, u1 <<= 2, u2 <<= 2)
                {
                    var (s1, m1) = ScaleMin(isc, sc);
                    var (s2, m2) = ScaleMin(isc + 1, sc);
                    float d1 = d * s1, mm1 = min * m1, d2 = d * s2, mm2 = min * m2;
                    for (int l = 0; l < 32; l++) y[o++] = d1 * ((q[qo + l] & 0xF) + (five && (qh[l] & u1) != 0 ? 16 : 0)) - mm1;
                    for (int l = 0; l < 32; l++) y[o++] = d2 * ((q[qo + l] >> 4) + (five && (qh[l] & u2) != 0 ? 16 : 0)) - mm2;
                }
                break;
            }
            case GgmlType.Q6_K:
            {
                float d = Fp16.Read(b[208..]);
                for (int n = 0, ql = 0, qh = 128, sc = 192, o = 0; n < SuperBlock; n += 128, ql += 64, qh += 32, sc += 8, o += 128)
                for (int l = 0; l < 32; l++)
                {
                    int isc = l / 16;
                    int q1 = ((b[ql + l] & 0xF) | (((b[qh + l] >> 0) & 3) << 4)) - 32;
                    int q2 = ((b[ql + l + 32] & 0xF) | (((b[qh + l] >> 2) & 3) << 4)) - 32;
                    int q3 = ((b[ql + l] >> 4) | (((b[qh + l] >> 4) & 3) << 4)) - 32;
                    int q4 = ((b[ql + l + 32] >> 4) | (((b[qh + l] >> 6) & 3) << 4)) - 32;
                    y[o + l] = d * (sbyte)b[sc + isc] * q1;
                    y[o + l + 32] = d * (sbyte)b[sc + isc + 2] * q2;
                    y[o + l + 64] = d * (sbyte)b[sc + isc + 4] * q3;
                    y[o + l + 96] = d * (sbyte)b[sc + isc + 6] * q4;
                }
                break;
            }
            default: throw new ArgumentOutOfRangeException(nameof(type), type, "not a K-quant");
        }
    }
}
