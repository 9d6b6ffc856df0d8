using NUnit.Framework;
using static QuantNative.Tests.Interop.ScalarFormats;

namespace QuantNative.Tests.Interop;

/// <summary>
/// mma.sync m16n8k16 (f16 and bf16) against a scalar matmul, with each lane's fragments gathered by the PTX ISA's
/// formulas in the kernel; ldmatrix x1/x2/x4 (.trans) against the PTX ISA's lane table (written again here);
/// ldmatrix feeding mma as GEMM kernels do; WMMA m16n16k16 with every layout against a scalar matmul.
/// </summary>
public class EmulatorTensorCoreTests : EmulatorTestBase
{
    private static ushort RandomElement(Random rng, bool bf16)
    {
        float x = (float)(rng.NextDouble() * 4 - 2);
        return FromFloat(x, bf16 ? BFloat16 : Binary16);
    }

    private static double Element(ushort bits, bool bf16) => bf16 ? BFloat16ToDouble(bits) : HalfToDouble(bits);

    /// <summary>D = A * B + C in double, with the tolerance a float result of it may differ by: fp32 accumulation
    /// (a GPU) or one final rounding (the emulator), relative to the sum of the absolute terms.</summary>
    private static (double Value, double Tolerance) Dot(Func<int, double> a, Func<int, double> b, double c, int k)
    {
        double sum = c, magnitude = Math.Abs(c);
        for (int i = 0; i < k; i++)
        {
            sum += a(i) * b(i);
            magnitude += Math.Abs(a(i) * b(i));
        }
        return (sum, 1e-6 * magnitude + 1e-30);
    }

    [TestCase(false)]
    [TestCase(true)]
    public void MmaM16N8K16_MatchesAScalarMatmul(bool bf16)
    {
        var rng = NewRandom();
        const int blocks = 2, warpsPerBlock = 3, tiles = blocks * warpsPerBlock;
        var a = Enumerable.Range(0, tiles * 256).Select(_ => RandomElement(rng, bf16)).ToArray();
        var b = Enumerable.Range(0, tiles * 128).Select(_ => RandomElement(rng, bf16)).ToArray();
        var c = Enumerable.Range(0, tiles * 128).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        var d = NaNs(tiles * 128);
        Launch1D("qn_selftest_mma", blocks, 32 * warpsPerBlock, d, a, b, c, bf16 ? 1 : 0);
        for (int w = 0; w < tiles; w++)
        for (int m = 0; m < 16; m++)
        for (int n = 0; n < 8; n++)
        {
            var (expected, tolerance) = Dot(k => Element(a[w * 256 + m * 16 + k], bf16),
                k => Element(b[w * 128 + k * 8 + n], bf16), c[w * 128 + m * 8 + n], 16);
            Assert.That(d[w * 128 + m * 8 + n], Is.EqualTo(expected).Within(tolerance), $"tile {w} D[{m},{n}]");
        }
    }

    [TestCase(0, 1, false)]
    [TestCase(1, 1, true)]
    [TestCase(2, 2, false)]
    [TestCase(3, 2, true)]
    [TestCase(4, 4, false)]
    [TestCase(5, 4, true)]
    public void Ldmatrix_DistributesRowsAsThePtxIsaDocuments(int variant, int count, bool trans)
    {
        var rng = NewRandom();
        var src = Enumerable.Range(0, 32 * 8).Select(_ => (ushort)rng.Next(65536)).ToArray();
        var rows = Enumerable.Range(0, 32).OrderBy(_ => rng.Next()).ToArray(); // lane l points at row rows[l]
        var output = PoisonU(32 * 4);
        Launch1D("qn_selftest_ldmatrix", 1, 32, output, src, rows, variant);
        // Matrix i is made of the rows whose addresses lanes 8i..8i+7 give; lane l receives row l/4, elements
        // 2(l%4) and 2(l%4)+1 (transposed: column l/4, rows 2(l%4) and 2(l%4)+1); the lower index in the low half.
        ushort M(int i, int row, int col) => src[rows[8 * i + row] * 8 + col];
        for (int lane = 0; lane < 32; lane++)
        {
            for (int i = 0; i < 4; i++)
            {
                uint got = output[lane * 4 + i];
                if (i >= count)
                {
                    Assert.That(got, Is.EqualTo(0x7fbadbadu), $"lane {lane} register {i} must not be written");
                    continue;
                }
                int q = lane / 4, e = 2 * (lane % 4);
                uint lo = trans ? M(i, e, q) : M(i, q, e);
                uint hi = trans ? M(i, e + 1, q) : M(i, q, e + 1);
                Assert.That(got, Is.EqualTo(lo | hi << 16), $"lane {lane} register {i}");
            }
        }
    }

    [Test]
    public void LdmatrixIntoMma_ComputesTheTileProduct()
    {
        var rng = NewRandom();
        var a = Enumerable.Range(0, 256).Select(_ => RandomElement(rng, false)).ToArray();
        var b = Enumerable.Range(0, 128).Select(_ => RandomElement(rng, false)).ToArray();
        var c = Enumerable.Range(0, 128).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        var d = NaNs(128);
        Launch1D("qn_selftest_ldmatrix_mma", 1, 32, d, a, b, c);
        for (int m = 0; m < 16; m++)
        for (int n = 0; n < 8; n++)
        {
            var (expected, tolerance) = Dot(k => HalfToDouble(a[m * 16 + k]), k => HalfToDouble(b[k * 8 + n]),
                c[m * 8 + n], 16);
            Assert.That(d[m * 8 + n], Is.EqualTo(expected).Within(tolerance), $"D[{m},{n}]");
        }
    }

    [TestCase(0)]
    [TestCase(1)]
    [TestCase(2)]
    [TestCase(3)]
    [TestCase(4)]
    [TestCase(5)]
    [TestCase(6)]
    [TestCase(7)]
    public void Wmma_MatchesAScalarMatmulInEveryLayout(int layouts)
    {
        var rng = NewRandom();
        const int blocks = 2, warpsPerBlock = 2, tiles = blocks * warpsPerBlock, ld = 24;
        bool colA = (layouts & 1) != 0, colB = (layouts & 2) != 0, colC = (layouts & 4) != 0;
        var a = Enumerable.Range(0, tiles * 16 * ld).Select(_ => RandomElement(rng, false)).ToArray();
        var b = Enumerable.Range(0, tiles * 16 * ld).Select(_ => RandomElement(rng, false)).ToArray();
        var c = Enumerable.Range(0, tiles * 16 * ld).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        var d = NaNs(tiles * 16 * ld);
        Launch1D("qn_selftest_wmma", blocks, 32 * warpsPerBlock, d, a, b, c, layouts, ld);
        int At(bool col, int row, int column) => col ? column * ld + row : row * ld + column;
        for (int w = 0; w < tiles; w++)
        {
            int t = w * 16 * ld;
            for (int m = 0; m < 16; m++)
            for (int n = 0; n < 16; n++)
            {
                var (expected, tolerance) = Dot(k => HalfToDouble(a[t + At(colA, m, k)]),
                    k => HalfToDouble(b[t + At(colB, k, n)]), c[t + At(colC, m, n)], 16);
                Assert.That(d[t + At(colC, m, n)], Is.EqualTo(expected).Within(tolerance), $"tile {w} D[{m},{n}]");
            }
            // The padding columns (16..ld-1) of the output are never written.
            for (int r = 0; r < 16; r++)
            for (int p = 16; p < ld; p++)
                Assert.That(d[t + r * ld + p], Is.NaN, $"tile {w} padding ({r},{p}) written");
        }
    }
}
