using NUnit.Framework;
using QuantNative.Cpu;
using QuantNative.Training;
using static QuantNative.Tests.Training.TestTensors;

namespace QuantNative.Tests.Training;

/// <summary>
/// The float fast path of each op and of the block against the double path on the same (float-representable)
/// inputs, forward and backward, by ‖float − double‖₂/‖double‖₂.
/// </summary>
public class PrecisionTests
{
    private static void Close(float[] actual, double[] expected, long count, double tolerance, string what)
    {
        double rel = RelativeError(actual, expected, count);
        TestContext.Out.WriteLine($"{what}: {rel:G3}");
        Assert.That(rel, Is.LessThan(tolerance), what);
    }

    [TestCase(17, 24)] [TestCase(64, 512)]
    public void RmsNorm(int rows, int dim)
    {
        var random = new Random(dim);
        var x = UniformFloat(random, rows * dim); var gamma = UniformFloat(random, dim, 0.5, 1.5);
        var dy = UniformFloat(random, rows * dim);
        var (y64, inv64, dx64, dg64) = (new double[x.Length], new double[rows], new double[x.Length], new double[dim]);
        QuantNative.Cpu.RmsNorm.Forward(y64, inv64, x, gamma, rows, dim, 1e-5);
        QuantNative.Cpu.RmsNorm.Backward(dx64, dg64, dy, x, inv64, gamma, rows, dim);
        var (y, inv, dx, dg) = (Poisoned<float>(x.Length), Poisoned<float>(rows), Poisoned<float>(x.Length), Poisoned<float>(dim));
        QuantNative.Cpu.RmsNorm.Forward(y, inv, ToFloat(x), ToFloat(gamma), rows, dim, 1e-5);
        QuantNative.Cpu.RmsNorm.Backward(dx, dg, ToFloat(dy), ToFloat(x), inv, ToFloat(gamma), rows, dim);
        Close(y, y64, y.Length, Tolerances.Fp32VsFloat64OpRel, "y");
        Close(dx, dx64, dx.Length, Tolerances.Fp32VsFloat64OpRel, "dx");
        Close(dg, dg64, dim, Tolerances.Fp32VsFloat64OpRel, "dγ");
    }

    [TestCase(17, 24, 17)] [TestCase(64, 688, 256)]
    public void Linear(int rows, int outDim, int inDim)
    {
        var random = new Random(outDim);
        var x = UniformFloat(random, rows * inDim); var w = UniformFloat(random, outDim * inDim); var dy = UniformFloat(random, rows * outDim);
        var (y64, dx64, dw64) = (new double[rows * outDim], new double[x.Length], new double[w.Length]);
        QuantNative.Cpu.Linear.Forward(y64, x, w, rows, outDim, inDim);
        QuantNative.Cpu.Linear.Backward(dx64, dw64, dy, x, w, rows, outDim, inDim);
        var (y, dx, dw) = (Poisoned<float>(y64.Length), Poisoned<float>(x.Length), Poisoned<float>(w.Length));
        QuantNative.Cpu.Linear.Forward(y, ToFloat(x), ToFloat(w), rows, outDim, inDim);
        QuantNative.Cpu.Linear.Backward(dx, dw, ToFloat(dy), ToFloat(x), ToFloat(w), rows, outDim, inDim);
        Close(y, y64, y.Length, Tolerances.Fp32VsFloat64OpRel, "y");
        Close(dx, dx64, dx.Length, Tolerances.Fp32VsFloat64OpRel, "dx");
        Close(dw, dw64, dw.Length, Tolerances.Fp32VsFloat64OpRel, "dW");
    }

    [TestCase(17, 3, 8)] [TestCase(300, 4, 64)]
    public void Rope(int rows, int heads, int headDim)
    {
        var random = new Random(rows);
        var rope = new QuantNative.Cpu.Rope(headDim, rows, 10000);
        var x = UniformFloat(random, rows * heads * headDim);
        var (y64, y) = ((double[])x.Clone(), ToFloat(x));
        rope.Forward(y64, rows, heads, 0); rope.Forward(y, rows, heads, 0);
        Close(y, y64, y.Length, Tolerances.Fp32VsFloat64OpRel, "y");
        // Backward of the forward's output: back to x, in either precision.
        rope.Backward(y64, rows, heads, 0); rope.Backward(y, rows, heads, 0);
        Close(y, x, y.Length, Tolerances.Fp32VsFloat64OpRel, "rotated back (float)");
        Assert.That(y64.Zip(x, (a, b) => Math.Abs(a - b)).Max(), Is.LessThan(1e-14), "rotated back (double)");
    }

    [TestCase(17, 3, 1, 8)] [TestCase(300, 4, 2, 64)]
    public void Attention(int tokens, int heads, int kvHeads, int headDim)
    {
        var random = new Random(tokens + heads);
        int qw = heads * headDim, kvw = kvHeads * headDim;
        var q = UniformFloat(random, tokens * qw, -2, 2); var k = UniformFloat(random, tokens * kvw, -2, 2);
        var v = UniformFloat(random, tokens * kvw); var dO = UniformFloat(random, tokens * qw);
        var (o64, lse64, dq64, dk64, dv64) = (new double[q.Length], new double[heads * tokens], new double[q.Length], new double[k.Length], new double[v.Length]);
        CausalAttention.Forward(o64, lse64, q, k, v, tokens, 0, heads, kvHeads, headDim);
        CausalAttention.Backward(dq64, dk64, dv64, dO, q, k, v, lse64, tokens, heads, kvHeads, headDim);
        var (o, lse, dq, dk, dv) = (Poisoned<float>(q.Length), Poisoned<float>(heads * tokens), Poisoned<float>(q.Length), Poisoned<float>(k.Length), Poisoned<float>(v.Length));
        CausalAttention.Forward(o, lse, ToFloat(q), ToFloat(k), ToFloat(v), tokens, 0, heads, kvHeads, headDim);
        CausalAttention.Backward(dq, dk, dv, ToFloat(dO), ToFloat(q), ToFloat(k), ToFloat(v), lse, tokens, heads, kvHeads, headDim);
        Close(o, o64, o.Length, Tolerances.Fp32VsFloat64OpRel, "O");
        Close(lse, lse64, lse.Length, Tolerances.Fp32VsFloat64OpRel, "log-sum-exp");
        Close(dq, dq64, dq.Length, Tolerances.Fp32VsFloat64OpRel, "dQ");
        Close(dk, dk64, dk.Length, Tolerances.Fp32VsFloat64OpRel, "dK");
        Close(dv, dv64, dv.Length, Tolerances.Fp32VsFloat64OpRel, "dV");
    }

    [TestCase(17)] [TestCase(100_000)]
    public void SwiGluAndMse(int count)
    {
        var random = new Random(count);
        var a = UniformFloat(random, count, -8, 8); var b = UniformFloat(random, count); var dh = UniformFloat(random, count);
        var (h64, da64, db64) = (new double[count], new double[count], new double[count]);
        QuantNative.Cpu.SwiGlu.Forward(h64, a, b, count);
        QuantNative.Cpu.SwiGlu.Backward(da64, db64, dh, a, b, count);
        var (h, da, db) = (Poisoned<float>(count), Poisoned<float>(count), Poisoned<float>(count));
        QuantNative.Cpu.SwiGlu.Forward(h, ToFloat(a), ToFloat(b), count);
        QuantNative.Cpu.SwiGlu.Backward(da, db, ToFloat(dh), ToFloat(a), ToFloat(b), count);
        Close(h, h64, count, Tolerances.Fp32VsFloat64OpRel, "h");
        Close(da, da64, count, Tolerances.Fp32VsFloat64OpRel, "da");
        Close(db, db64, count, Tolerances.Fp32VsFloat64OpRel, "db");

        double mse64 = MseLoss.Forward(h64, b, count), mse = MseLoss.Forward(h, ToFloat(b), count);
        var (dy64, dy) = (new double[count], Poisoned<float>(count));
        MseLoss.Backward(dy64, 1.0, h64, b, count);
        MseLoss.Backward(dy, 1.0, h, ToFloat(b), count);
        Assert.That(Math.Abs(mse - mse64) / mse64, Is.LessThan(Tolerances.Fp32VsFloat64OpRel), "MSE");
        Close(dy, dy64, count, Tolerances.Fp32VsFloat64OpRel, "dy of the MSE");
    }

    public static IEnumerable<TestCaseData> BlockShapes() => BlockGradientTests.Shapes().Append(
        new TestCaseData(256, 688, 4, 2, 300, "llama").SetName("hidden 256, GQA 2:1, intermediate 688, T=300"));

    [TestCaseSource(nameof(BlockShapes))]
    public void Block(int hidden, int intermediate, int heads, int kvHeads, int tokens, string architecture)
    {
        var f = new TrainingBlockFixture(hidden, intermediate, heads, kvHeads, tokens, seed: 9 + tokens, architecture);
        var c = f.Config;
        var dy = UniformFloat(new Random(tokens), f.OutputLength);

        var w64 = BlockTensors<double>.From(f.Weights);
        var saved64 = new BlockActivations<double>(c, tokens);
        var y64 = f.Forward(w64, ToDouble(f.Input), saved64);
        var dx64 = new double[f.OutputLength];
        var dW64 = BlockTensors<double>.Zeros(c);
        TrainingBlock.Backward(dx64, dW64, dy, saved64, w64, c, f.Rope, new BlockGradientWorkspace<double>(c, tokens));

        var w = BlockTensors<float>.From(f.Weights);
        var saved = new BlockActivations<float>(c, tokens);
        var y = f.Forward(w, f.Input, saved);
        var dx = Poisoned<float>(f.OutputLength);
        var dW = BlockTensors<float>.Zeros(c);
        foreach (var (_, t) in dW.All()) Array.Fill(t, float.NaN);
        TrainingBlock.Backward(dx, dW, ToFloat(dy), saved, w, c, f.Rope, new BlockGradientWorkspace<float>(c, tokens));

        Close(y, y64, y.Length, Tolerances.Fp32VsFloat64BlockRel, "y");
        Close(dx, dx64, dx.Length, Tolerances.Fp32VsFloat64BlockRel, "dx");
        foreach (var ((name, g), (_, g64)) in dW.All().Zip(dW64.All()))
        {
            if (tokens == 1 && name is "q_proj" or "k_proj") { Assert.That(g, Is.All.EqualTo(0f)); continue; }
            Close(g, g64, g.Length, Tolerances.Fp32VsFloat64BlockRel, "d" + name);
        }
    }
}
