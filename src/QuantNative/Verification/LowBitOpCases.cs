using QuantNative.Cuda;
using QuantNative.Formats.Gptq;
using QuantNative.Inference.LowBit;
using QuantNative.Model.Quantized;

namespace QuantNative.Verification;

/// <summary>
/// The low-bit linear on the device (LowBitDeviceLinear: the GEMV kernel for M ≤ 8, the tensor-core GEMM above, split
/// K with its reduction, the act-order gather) against the C# CPU low-bit matmul, per output within the kernel's
/// tolerance of Σ|x·ŵ| (+ one fp16 rounding for fp16 outputs). Shapes as the kernel tests': W2/W3/W4 × groups 32, 64,
/// 128 and per-channel, K and N no multiple of the tiles; `--large` adds LLaMA-wide N at M = 1, 16, 64, 128 (K stays
/// ≤ 512, the bound the tolerances' reasoning assumes).
/// </summary>
public static class LowBitOpCases
{
    public static IEnumerable<OpCase> All()
    {
        int i = 0;
        foreach (int m in new[] { 1, 3, 8 })
        foreach (int bits in new[] { 2, 3, 4 })
        foreach (int group in new[] { 32, 64, 128, -1 })
        {
            int k = (i % 3) switch { 0 => 512, 1 => group == -1 ? 328 : 264, _ => group == 32 ? 200 : 384 };
            if (group > 0 && k < group) k = 512;
            yield return Linear("lowbit-gemv", m, bits, group, k, i % 2 == 0 ? 37 : 61, Output(i++));
        }
        i = 0;
        foreach (int m in new[] { 17, 64, 128 })
        foreach (int bits in new[] { 2, 3, 4 })
        foreach (int group in new[] { 32, 64, 128, -1 })
        {
            int k = (i % 3) switch { 0 => 256, 1 => group == -1 ? 136 : 200, _ => group == 32 ? 104 : 192 };
            if (group > 0 && k < group) k = 256;
            yield return Linear("lowbit-mma", m, bits, group, k, i % 2 == 0 ? 72 : 130, Output(i++));
        }
        foreach (var (m, bits, group, k, n) in new[] { (9, 4, -1, 8, 1), (33, 2, 64, 72, 65), (129, 3, 128, 128, 9) })
            yield return Linear("lowbit-mma", m, bits, group, k, n, LowBitOutput.Float16);
        foreach (var (bits, splits) in new[] { (2, 2), (3, 3), (4, 4) })
            yield return Linear("lowbit-splitk", 64, bits, 128, 512, 72, Output(splits), splits);
        foreach (var (m, bits, group) in new[] { (3, 4, 32), (17, 4, 32), (17, 3, 64), (5, 2, 32) })
            yield return Linear("lowbit-actorder", m, bits, group, 128, 40, LowBitOutput.Float32, actOrder: true);
        foreach (var (m, k) in new[] { (1, 8), (3, 264), (17, 128) })
            yield return new OpCase("lowbit-gather", $"M {m} K {k}", c => Gather(c, m, k));
        foreach (int m in new[] { 1, 16, 64, 128 })
        foreach (int bits in new[] { 2, 3, 4 })
            yield return Linear(m <= LowBitGemvLaunch.MaxM ? "lowbit-gemv" : "lowbit-mma", m, bits, 128, 512, 4096,
                LowBitOutput.Float16, large: true);
    }

    private static LowBitOutput Output(int i) => i % 2 == 0 ? LowBitOutput.Float32 : LowBitOutput.Float16;

    private static OpCase Linear(string op, int m, int bits, int group, int k, int n, LowBitOutput output,
        int? splits = null, bool actOrder = false, bool large = false)
    {
        string shape = $"M {m} W{bits} g {group} K {k} N {n} {(output == LowBitOutput.Float16 ? "f16" : "f32")}" +
                       (splits is { } s ? $" splits {s}" : "");
        return new OpCase(op, shape, c =>
        {
            var r = c.Random;
            var matrix = LowBitInputs.Matrix(r, n, k, bits, group, GptqCheckpointFormat.V2);
            if (actOrder) matrix = Shuffled(r, matrix);
            var linear = new LowBitLinear(LowBitRepack.FromGptq(GptqPacker.Pack(matrix, GptqCheckpointFormat.V2)));
            var x = LowBitInputs.Activations(r, m, k);
            var expected = new float[m * n];
            linear.ForwardCpu(x, m, expected);
            var actual = LowBitRun.OnDevice(c.Runtime, linear, x, m, output, splits);
            var magnitudes = LowBitRun.Magnitudes(linear.Weights.Dequantize(), x, m, n, k);
            double halfRel = output == LowBitOutput.Float16 ? Tolerances.LowBitGemvHalfOutputRel : 0;
            // M = 1 at W4 runs the GEMV's fp16-pair body, at W2/W3 its tensor-core one: their bounds plus the float32
            // reference's own K·2⁻²⁴.
            double tolerance = LowBitGemvLaunch.SumsInHalf2(m, bits, k) ? Tolerances.LowBitGemvHalf2SumRel + k * Math.Pow(2, -24)
                : LowBitGemvLaunch.DotsOnTensorCores(m, bits, k, linear.Weights.GroupLength) ? Tolerances.LowBitGemvMmaSumRel + k * Math.Pow(2, -24)
                : m <= LowBitGemvLaunch.MaxM ? Tolerances.LowBitGemvSumRel
                : Tolerances.LowBitMmaSumRel;
            return [new OpCheck("y", OpErrors.WorstSumRelative(actual, expected, magnitudes, halfRel), tolerance, "max |Δ|/Σ|x·ŵ|")];
        }, large);
    }

    /// <summary>The same matrix with its g_idx shuffled (act-order: groups not in input order), so the repack permutes
    /// K and the device gathers x first.</summary>
    private static QuantizedMatrix Shuffled(Random r, QuantizedMatrix q)
    {
        var gIdx = (int[])q.GroupIndex.Clone();
        r.Shuffle(gIdx);
        return new QuantizedMatrix(q.Rows, q.Columns, q.Config, q.Codes, q.Scales, q.Zeros, gIdx);
    }

    /// <summary>kernels/gemm/lowbit_gather.cu alone: scratch[m, j] = x[m, perm[j]], bit-exact (a copy).</summary>
    private static unsafe IReadOnlyList<OpCheck> Gather(OpContext c, int m, int k)
    {
        var rt = c.Runtime;
        rt.LoadModule(LowBitGemvLaunch.Family);
        var x = LowBitInputs.Activations(c.Random, m, k);
        var perm = Enumerable.Range(0, k).ToArray();
        c.Random.Shuffle(perm);
        var expected = new Half[m * k];
        for (int i = 0; i < m; i++)
        for (int j = 0; j < k; j++)
            expected[i * k + j] = x[i * k + perm[j]];
        DevicePtr dx = rt.Allocate(m * k * 2L), dp = rt.Allocate(k * 4L), dy = rt.Allocate(m * k * 2L);
        try
        {
            fixed (Half* px = x) rt.CopyHostToDevice(dx, px, m * k * 2L);
            fixed (int* pp = perm) rt.CopyHostToDevice(dp, pp, k * 4L);
            rt.Memset(dy, 0xff, m * k * 2L);
            using (var args = new KernelArguments(5))
            {
                args.Add(dy).Add(dx).Add(dp).Add(m).Add(k);
                rt.Launch(LowBitDeviceLinear.GatherKernel, new Dim3((uint)Math.Min((m * k + 255) / 256, 65535)),
                    new Dim3(256), 0, args);
            }
            rt.Synchronize();
            var actual = new Half[m * k];
            fixed (Half* pa = actual) rt.CopyDeviceToHost(pa, dy, m * k * 2L);
            int mismatches = 0;
            for (int i = 0; i < actual.Length; i++)
                if (BitConverter.HalfToUInt16Bits(actual[i]) != BitConverter.HalfToUInt16Bits(expected[i])) mismatches++;
            return [OpCheck.BitExact("gathered x", mismatches)];
        }
        finally
        {
            rt.Free(dx);
            rt.Free(dp);
            rt.Free(dy);
        }
    }
}
