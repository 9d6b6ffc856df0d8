using QuantNative.Cpu;
using QuantNative.Cpu.Weights;
using QuantNative.Formats;
using QuantNative.Cuda;
using QuantNative.Inference;
using QuantNative.Inference.Device;

namespace QuantNative.Verification;

/// <summary>
/// The kernels of the device decode path (kernels/infer/, run by <see cref="DeviceInferenceSession"/>) against their
/// C# references, on fresh random inputs with awkward shapes and outputs poisoned first: the embedding lookup
/// (<see cref="TokenEmbedding.Lookup"/>, bit for bit), float32 → fp16 (C#'s (Half)x, bit for bit), the decode attention
/// over a KV cache (<see cref="CausalAttention"/> with a first position, within float rounding) and the arg-max
/// (<see cref="Sampler.ArgMax"/>, the exact index, with planted ties and NaNs); for BF16/F16 checkpoints the lookup
/// from the stored table and its widening (bit for bit) and the dense GEMV on stored weights (the CPU engine's
/// <see cref="MappedLinear"/> over the same bytes, within float rounding).
/// </summary>
public static unsafe class InferenceOpCases
{
    public static IEnumerable<OpCase> All()
    {
        foreach (var (vocab, hidden, tokens) in new[] { (7, 1, 1), (5, 17, 9), (33, 300, 4), (1000, 64, 33) })
            yield return new OpCase("embedding-lookup", $"vocab {vocab} hidden {hidden} tokens {tokens}",
                c => Embedding(c, vocab, hidden, tokens));
        foreach (var dtype in new[] { FloatDType.BF16, FloatDType.F16 })
        {
            string name = dtype.ToString().ToLowerInvariant();
            foreach (var (vocab, hidden, tokens) in new[] { (7, 1, 1), (33, 300, 4) })
                yield return new OpCase($"embedding-lookup-{name}", $"vocab {vocab} hidden {hidden} tokens {tokens}",
                    c => Embedding(c, vocab, hidden, tokens, dtype));
            foreach (int count in new[] { 1, 17, 4099 })
                yield return new OpCase($"widen16-{name}", $"count {count}", c => Widen(c, count, dtype));
            foreach (var (tokens, n, k, accumulate, large) in new[]
                     {
                         (1, 1, 1, false, false), (1, 17, 3, true, false), (3, 130, 172, false, false),
                         (8, 17, 172, true, false), (5, 33, 64, false, false), (1, 64, 2048, false, false), (2, 2048, 5632, true, true),
                     })
                yield return new OpCase($"dense16-gemv-{name}", $"tokens {tokens} n {n} k {k}{(accumulate ? " accumulate" : "")}",
                    c => Dense16(c, tokens, n, k, accumulate, dtype), large);
        }
        foreach (int count in new[] { 1, 17, 4099 })
            yield return new OpCase("f32-to-f16", $"count {count}", c => ToHalf(c, count));
        foreach (var (count, plant) in new[]
                 {
                     (1, ArgMaxPlant.None), (31, ArgMaxPlant.Ties), (1000, ArgMaxPlant.Ties), (1000, ArgMaxPlant.NaNs),
                     (4097, ArgMaxPlant.NaNAtZero), (3000, ArgMaxPlant.AllNegativeInfinity), (151669, ArgMaxPlant.Ties),
                 })
            yield return new OpCase("argmax", $"count {count} {plant}", c => ArgMax(c, count, plant), Large: count > 100_000);
        foreach (var (tokens, first, heads, kv, headDim, window, large) in new[]
                 {
                     (1, 0, 4, 2, 8, 0, false), (1, 40, 4, 2, 8, 0, false), (5, 3, 6, 3, 20, 0, false),
                     (17, 0, 4, 2, 8, 4, false), (1, 40, 4, 2, 8, 4, false), (5, 40, 4, 4, 8, 1, false),
                     (3, 11, 6, 3, 20, 100, false), (1, 1000, 32, 8, 128, 0, true), (64, 200, 8, 2, 64, 128, true),
                 })
            yield return new OpCase("attention-decode",
                $"tokens {tokens} first {first} heads {heads}/{kv} head_dim {headDim} window {window}",
                c => AttentionDecode(c, tokens, first, heads, kv, headDim, window), large);
        // Split-K: short rows cut into small chunks (ragged last chunks, chunks past a prefill row's last key, a window
        // cutting the first chunk), and one row longer than a block's shared memory holds, split as a session splits it.
        foreach (var (tokens, first, heads, kv, headDim, window, chunk, large) in new[]
                 {
                     (1, 40, 4, 2, 8, 0, 7, false), (5, 3, 6, 3, 20, 0, 3, false), (17, 0, 4, 2, 8, 0, 5, false),
                     (3, 11, 6, 3, 20, 10, 4, false), (1, 40, 4, 2, 8, 0, 40, false), (4, 30, 4, 1, 8, 0, 1, false),
                     (1, 13000, 4, 2, 16, 0, 0, false), (2, 20000, 32, 8, 128, 0, 0, true),
                 })
            yield return new OpCase("attention-decode-split",
                $"tokens {tokens} first {first} heads {heads}/{kv} head_dim {headDim} window {window} chunk {(chunk > 0 ? chunk : InferLaunch.AttentionSplitChunk)}",
                c => AttentionDecode(c, tokens, first, heads, kv, headDim, window, chunk > 0 ? chunk : null), large);
    }

    public enum ArgMaxPlant
    {
        None,
        Ties,
        NaNs,
        NaNAtZero,
        AllNegativeInfinity,
    }

    private static IReadOnlyList<OpCheck> Embedding(OpContext c, int vocab, int hidden, int tokens,
        FloatDType dtype = FloatDType.F32)
    {
        var r = c.Random;
        var table = Random(r, vocab * hidden);
        // Repeated ids and both ends of the table.
        var ids = Enumerable.Range(0, tokens).Select(i => i == 0 ? vocab - 1 : i == 1 ? 0 : r.Next(vocab)).ToArray();
        var expected = new float[tokens * hidden];
        var stored = Stored(table, dtype);
        var embedding = dtype == FloatDType.F32
            ? new TokenEmbedding(table, hidden)
            : new TokenEmbedding(MappedTensor.InMemory("table", dtype, [vocab, hidden], stored));
        for (int t = 0; t < tokens; t++) embedding.Lookup(ids[t], expected.AsSpan(t * hidden, hidden));
        using var scope = new Scope(c.Runtime);
        var x = scope.Poisoned(tokens * hidden);
        new DeviceOps(c.Runtime).EmbeddingLookup(x, scope.Upload<byte>(stored), scope.Upload<int>(ids), tokens, hidden, dtype);
        return [OpCheck.BitExact("x", OpErrors.BitMismatches(scope.Download(x, tokens * hidden), expected))];
    }

    /// <summary><paramref name="values"/> as a checkpoint of <paramref name="dtype"/> stores them (rounded).</summary>
    private static byte[] Stored(float[] values, FloatDType dtype)
    {
        var bytes = new byte[values.Length * dtype.ByteSize()];
        FloatConversion.Encode(values, dtype, bytes);
        return bytes;
    }

    private static IReadOnlyList<OpCheck> Widen(OpContext c, int count, FloatDType dtype)
    {
        var r = c.Random;
        var values = Random(r, count, 70000); // past fp16's range: ±inf after rounding
        // NaN, an fp16 subnormal, −0 at the end (element 0 stays an ordinary value a corrupted kernel output changes).
        if (count > 3) (values[^1], values[^2], values[^3]) = (float.NaN, 3e-7f, -0f);
        var stored = Stored(values, dtype);
        var expected = new float[count];
        FloatConversion.Decode(stored, dtype, expected);
        using var scope = new Scope(c.Runtime);
        var dst = scope.Poisoned(count);
        new DeviceOps(c.Runtime).Widen(dst, scope.Upload<byte>(stored), dtype, count);
        return [OpCheck.BitExact("dst", OpErrors.BitMismatchesAnyNaN(scope.Download(dst, count), expected))];
    }

    private static IReadOnlyList<OpCheck> Dense16(OpContext c, int tokens, int n, int k, bool accumulate, FloatDType dtype)
    {
        var r = c.Random;
        var stored = Stored(Random(r, n * k), dtype);
        var x = Random(r, tokens * k);
        var y0 = Random(r, tokens * n);
        var expected = accumulate ? (float[])y0.Clone() : new float[tokens * n];
        new MappedLinear(MappedTensor.InMemory("w", dtype, [n, k], stored), n, k).Forward(x, expected, tokens, accumulate);
        using var scope = new Scope(c.Runtime);
        var y = accumulate ? scope.Upload<float>(y0) : scope.Poisoned(tokens * n);
        new DeviceOps(c.Runtime).Dense16Gemv(y, scope.Upload<float>(x), scope.Upload<byte>(stored), dtype, tokens, n, k,
            accumulate);
        return [OpCheck.Relative("y", OpErrors.RelativeL2(scope.Download(y, tokens * n), expected), Tolerances.CudaVsCpuOpRel)];
    }

    private static IReadOnlyList<OpCheck> ToHalf(OpContext c, int count)
    {
        var r = c.Random;
        // Every range of fp16: normal, subnormal (below 6.1e-5), underflow to 0, overflow to ±inf, exact halfway
        // points between two fp16 values (ties to even), and the specials.
        float[] specials = [0f, -0f, 65504f, 65520f, -65520f, 1e-8f, -3e-8f, float.PositiveInfinity, float.NegativeInfinity,
            float.NaN, 1f + 1f / 2048, 1f + 3f / 2048, 5.9604645e-8f / 2];
        var src = new float[count];
        for (int i = 0; i < count; i++)
            src[i] = i < specials.Length && count > specials.Length ? specials[i]
                : (float)((2 * r.NextDouble() - 1) * Math.Pow(2, r.Next(-30, 20)));
        using var scope = new Scope(c.Runtime);
        var dst = c.Runtime.Allocate(Math.Max(1, count * 2L));
        scope.Track(dst);
        c.Runtime.Memset(dst, 0xff, count * 2L);
        new DeviceOps(c.Runtime).ToHalf(dst, scope.Upload<float>(src), count);
        var actual = new Half[count];
        fixed (Half* p = actual) c.Runtime.CopyDeviceToHost(p, dst, count * 2L);
        int mismatches = 0;
        for (int i = 0; i < count; i++)
        {
            Half e = (Half)src[i];
            // NaN is NaN (the payload is not part of the contract); every other value to the bit.
            bool same = Half.IsNaN(e) ? Half.IsNaN(actual[i]) : BitConverter.HalfToUInt16Bits(e) == BitConverter.HalfToUInt16Bits(actual[i]);
            if (!same) mismatches++;
        }
        return [OpCheck.BitExact("fp16", mismatches)];
    }

    private static IReadOnlyList<OpCheck> ArgMax(OpContext c, int count, ArgMaxPlant plant)
    {
        var r = c.Random;
        var values = Random(r, count);
        if (plant == ArgMaxPlant.Ties && count > 2)
        {
            // The maximum at several places: the first must win, whichever thread and warp hold them.
            float max = values.Max() + 1;
            for (int i = 0; i < 4; i++) values[r.Next(count / 2, count)] = max;
            values[r.Next(count / 2)] = max;
        }
        if (plant == ArgMaxPlant.NaNs) for (int i = 0; i < 10; i++) values[r.Next(count)] = float.NaN;
        if (plant == ArgMaxPlant.NaNAtZero) values[0] = float.NaN;
        if (plant == ArgMaxPlant.AllNegativeInfinity) Array.Fill(values, float.NegativeInfinity);
        int expected = Sampler.ArgMax(values);
        using var scope = new Scope(c.Runtime);
        var result = c.Runtime.Allocate(sizeof(int));
        scope.Track(result);
        c.Runtime.Memset(result, 0xff, sizeof(int));
        new DeviceOps(c.Runtime).ArgMax(result, scope.Upload<float>(values), count);
        int actual;
        c.Runtime.CopyDeviceToHost(&actual, result, sizeof(int));
        return [new OpCheck($"index (cpu {expected}, device {actual})", actual == expected ? 0 : 1, 0, "index differs")];
    }

    private static IReadOnlyList<OpCheck> AttentionDecode(OpContext c, int tokens, int first, int heads, int kvHeads,
        int headDim, int window, int? chunk = null)
    {
        var r = c.Random;
        int positions = first + tokens, capacity = positions + 3; // rows past the sequence stay unread
        var q = Random(r, tokens * heads * headDim, 2); // larger scores: the softmax is far from uniform
        var k = Random(r, capacity * kvHeads * headDim, 2);
        var v = Random(r, capacity * kvHeads * headDim);
        var expected = new float[tokens * heads * headDim];
        CausalAttention.Forward(expected, q, k, v, tokens, first, heads, kvHeads, headDim, window);
        using var scope = new Scope(c.Runtime);
        var o = scope.Poisoned(expected.Length);
        using var partials = new DeviceBuffer(c.Runtime);
        new DeviceOps(c.Runtime).AttentionDecode(o, scope.Upload<float>(q), scope.Upload<float>(k), scope.Upload<float>(v),
            tokens, first, heads, kvHeads, headDim, window, partials, chunk);
        var got = scope.Download(o, expected.Length);
        if (chunk == null && InferLaunch.AttentionKeys(first + tokens, window) <= InferLaunch.AttentionMaxKeys)
            return [OpCheck.Relative("output", OpErrors.RelativeL2(got, expected), Tolerances.CudaVsCpuOpRel)];
        // Split rows: against the reference's float64 path, as long rows' float32 sums drift from it (the CPU's own
        // float path by up to 3.6e-6 at 13,001 keys), by more than two float paths may differ on short rows.
        var exact = new double[expected.Length];
        CausalAttention.Forward(exact, Doubles(q), Doubles(k), Doubles(v), tokens, first, heads, kvHeads, headDim, window);
        long keys = InferLaunch.AttentionKeys(first + tokens, window);
        return [OpCheck.Relative("output vs float64", OpErrors.RelativeL2(got, exact, exact.Length),
            keys <= Tolerances.Fp32VsFloat64OpTerms ? Tolerances.Fp32VsFloat64OpRel : Tolerances.LongAttentionRowVsFloat64Rel)];
    }

    private static double[] Doubles(float[] a) => Array.ConvertAll(a, x => (double)x);

    private static float[] Random(Random r, int count, double bound = 1)
    {
        var a = new float[count];
        for (int i = 0; i < count; i++) a[i] = (float)((2 * r.NextDouble() - 1) * bound);
        return a;
    }

    /// <summary>The device allocations of one case, freed together.</summary>
    private sealed class Scope(ICudaRuntime runtime) : IDisposable
    {
        private readonly List<DevicePtr> _owned = new();

        public DevicePtr Track(DevicePtr p)
        {
            _owned.Add(p);
            return p;
        }

        public DevicePtr Upload<T>(T[] host) where T : unmanaged => Track(DeviceBuffer.Upload<T>(runtime, host));

        /// <summary>count floats of NaN (0xff bytes): an element the kernel does not write shows.</summary>
        public DevicePtr Poisoned(int count)
        {
            var p = Track(runtime.Allocate(Math.Max(1, count * 4L)));
            runtime.Memset(p, 0xff, count * 4L);
            return p;
        }

        public float[] Download(DevicePtr p, int count)
        {
            var a = new float[count];
            fixed (float* h = a) runtime.CopyDeviceToHost(h, p, count * 4L);
            return a;
        }

        public void Dispose()
        {
            foreach (var p in _owned) runtime.Free(p);
        }
    }
}
