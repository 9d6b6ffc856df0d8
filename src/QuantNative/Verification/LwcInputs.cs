using QuantNative.Cpu;

namespace QuantNative.Verification;

/// <summary>Fresh random LWC inputs, with the situations the backward must handle: clipped elements
/// (γ, β well below 1), groups whose scale hits the lower clamp, and groups with tied maxima/minima.</summary>
public sealed class LwcInputs
{
    public required LwcShape Shape { get; init; }
    public required float[] W { get; init; }
    public required float[] U { get; init; }
    public required float[] L { get; init; }
    public required float[] DWq { get; init; }

    /// <param name="special">Make row 1 (if any) tiny (the scale clamp acts) and row 2 (if any) tied (values on a
    /// coarse grid, so max and min repeat).</param>
    public static LwcInputs Create(Random rng, LwcShape shape, bool special = true)
    {
        var w = new float[shape.Elements];
        for (int r = 0; r < shape.Rows; r++)
        {
            float rowScale = (float)Math.Exp(rng.NextDouble() * 4 - 4); // 0.018 .. 1
            for (int c = 0; c < shape.Cols; c++)
            {
                float v = (float)((rng.NextDouble() * 2 - 1) * rowScale);
                if (special && r == 1) v *= 1e-6f;
                if (special && r == 2) v = rng.Next(-3, 4) * 0.25f;
                w[(long)r * shape.Cols + c] = v;
            }
        }
        // Mostly γ ≈ 0.9..0.99 (initial 4.0), some strongly clipping groups.
        float[] Params() => Enumerable.Range(0, (int)shape.GroupCount)
            .Select(_ => rng.NextDouble() < 0.25 ? (float)(rng.NextDouble() * 2 - 1) : (float)(2 + rng.NextDouble() * 3))
            .ToArray();
        var dwq = Enumerable.Range(0, (int)shape.Elements).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        return new LwcInputs { Shape = shape, W = w, U = Params(), L = Params(), DWq = dwq };
    }
}

/// <summary>Outputs of one forward + backward, each array poisoned before the run.</summary>
public sealed class LwcOutputs
{
    public required float[] Wq, Scale, Zero, Max, Min, DW, Du, Dl;
    public required byte[] Codes;

    public static LwcOutputs Poisoned(LwcShape shape)
    {
        float[] N(long n) => Enumerable.Repeat(float.NaN, (int)n).ToArray();
        return new LwcOutputs
        {
            Wq = N(shape.Elements), Scale = N(shape.GroupCount), Zero = N(shape.GroupCount), Max = N(shape.GroupCount),
            Min = N(shape.GroupCount), DW = N(shape.Elements), Du = N(shape.GroupCount), Dl = N(shape.GroupCount),
            Codes = Enumerable.Repeat((byte)0xEE, (int)shape.Elements).ToArray(),
        };
    }

    public static LwcOutputs Reference(LwcInputs x, ScaleClamp clamp)
    {
        var o = Poisoned(x.Shape);
        LwcFakeQuant.Forward(o.Wq, o.Codes, o.Scale, o.Zero, o.Max, o.Min, x.W, x.U, x.L, x.Shape, clamp);
        LwcFakeQuant.Backward(o.DW, o.Du, o.Dl, x.DWq, x.W, x.U, x.L, o.Scale, o.Zero, o.Max, o.Min, x.Shape, clamp);
        return o;
    }
}
