using QuantNative.Cpu;

namespace QuantNative.Tests.Cpu;

/// <summary>
/// <see cref="LwcFakeQuant"/> in float64 (same definitions, ties and decisions), for checking the backward against
/// finite differences without float32 noise. Codes are returned as doubles.
/// </summary>
public static class LwcFakeQuantDouble
{
    public static double Sigmoid(double x) => 1.0 / (1.0 + Math.Exp(-x));

    private static double Clamp(double x, double lo, double hi) => Math.Min(Math.Max(x, lo), hi);

    public static void Forward(Span<double> wq, Span<double> codes, Span<double> scale, Span<double> zero,
        Span<double> wmax, Span<double> wmin, ReadOnlySpan<double> w, ReadOnlySpan<double> u, ReadOnlySpan<double> l,
        LwcShape shape, double minScale, double maxScale)
    {
        double qmax = shape.MaxCode;
        var layout = shape.Layout;
        for (int r = 0; r < shape.Rows; r++)
        for (int j = 0; j < shape.Groups; j++)
        {
            int start = r * shape.Cols + layout.StartOf(j), length = layout.LengthOf(j);
            int p = r * shape.Groups + j;
            double maxW = double.NegativeInfinity, minW = double.PositiveInfinity;
            for (int i = start; i < start + length; i++)
            {
                maxW = Math.Max(maxW, w[i]);
                minW = Math.Min(minW, w[i]);
            }
            double s, z;
            if (shape.Symmetric)
            {
                bool negative = -minW >= maxW;
                s = Clamp(Sigmoid(u[p]) * (negative ? -minW : maxW) / shape.Half, minScale, maxScale);
                z = negative ? shape.Half : shape.Half - 1;
            }
            else
            {
                double beta = Sigmoid(l[p]);
                s = Clamp((Sigmoid(u[p]) * maxW - beta * minW) / qmax, minScale, maxScale);
                // Free minimum: z is the offset m = β·min itself.
                z = shape.FreeMinimum ? beta * minW : Clamp(Math.Round(-(beta * minW) / s, MidpointRounding.ToEven), 0, qmax);
            }
            (scale[p], zero[p], wmax[p], wmin[p]) = (s, z, maxW, minW);
            for (int i = start; i < start + length; i++)
            {
                if (shape.FreeMinimum)
                {
                    double qf = Clamp(Math.Round((w[i] - z) / s, MidpointRounding.ToEven), 0, qmax);
                    codes[i] = qf;
                    wq[i] = qf * s + z;
                    continue;
                }
                double q = Clamp(Math.Round(w[i] / s, MidpointRounding.ToEven) + z, 0, qmax);
                codes[i] = q;
                wq[i] = (q - z) * s;
            }
        }
    }

    public static void Backward(Span<double> dW, Span<double> du, Span<double> dl, ReadOnlySpan<double> dWq,
        ReadOnlySpan<double> w, ReadOnlySpan<double> u, ReadOnlySpan<double> l, ReadOnlySpan<double> scale,
        ReadOnlySpan<double> zero, ReadOnlySpan<double> wmax, ReadOnlySpan<double> wmin, LwcShape shape,
        double minScale, double maxScale)
    {
        double qmax = shape.MaxCode;
        var layout = shape.Layout;
        for (int r = 0; r < shape.Rows; r++)
        for (int j = 0; j < shape.Groups; j++)
        {
            int start = r * shape.Cols + layout.StartOf(j), length = layout.LengthOf(j);
            int p = r * shape.Groups + j;
            double s = scale[p], z = zero[p], maxW = wmax[p], minW = wmin[p];
            double gs = 0, gm = 0;
            int maxTies = 0, minTies = 0;
            bool free = shape.FreeMinimum;
            for (int i = start; i < start + length; i++)
            {
                // Free minimum: x = (w − m)/s, the code is round(x), a clipped ŵ = q·s + m moves with m.
                double x = free ? (w[i] - z) / s : w[i] / s, rr = Math.Round(x, MidpointRounding.ToEven), c = free ? rr : rr + z;
                bool inside = c >= 0 && c <= qmax;
                gs += dWq[i] * (inside ? rr - x : Clamp(c, 0, qmax) - (free ? 0 : z));
                if (!inside) gm += dWq[i];
                if (w[i] == maxW) maxTies++;
                if (w[i] == minW) minTies++;
                dW[i] = inside ? dWq[i] : 0;
            }
            double gamma = Sigmoid(u[p]), beta = Sigmoid(l[p]);
            bool negative = -minW >= maxW;
            double raw = shape.Symmetric ? gamma * (negative ? -minW : maxW) / shape.Half : (gamma * maxW - beta * minW) / qmax;
            if (raw < minScale || raw > maxScale) gs = 0;
            double dXmax, dXmin, factorMin;
            if (shape.Symmetric)
            {
                // s = −γ·min/h (negative side) or γ·max/h: one extreme, one factor.
                dXmax = negative ? 0 : gs / shape.Half;
                dXmin = negative ? -gs / shape.Half : 0;
                du[p] = (negative ? dXmin * minW : dXmax * maxW) * gamma * (1 - gamma);
                dl[p] = 0;
                factorMin = gamma;
            }
            else
            {
                dXmax = gs / qmax;
                dXmin = shape.FreeMinimum ? -dXmax + gm : -dXmax;
                du[p] = dXmax * maxW * gamma * (1 - gamma);
                dl[p] = dXmin * minW * beta * (1 - beta);
                factorMin = beta;
            }
            for (int i = start; i < start + length; i++)
            {
                if (w[i] == maxW) dW[i] += dXmax * gamma / maxTies;
                if (w[i] == minW) dW[i] += dXmin * factorMin / minTies;
            }
        }
    }
}
