using QuantNative.Cpu;

namespace QuantNative.Tests.Cpu;

/// <summary>
/// The straight-through definition as a smooth function of (w, u, l) around a base point: rounding offsets
/// δ_i = round(r_i) − r_i, the zero z, which elements are inside, and the codes of clipped elements are frozen at
/// the base; then ŵ_i = w_i + δ_i·s inside and (q_i − z)·s when clipped, s = clamp((σ(u)·max w − σ(l)·min w)/qmax)
/// (symmetric: clamp(σ(u)·(−min w)/h) or clamp(σ(u)·max w/h), the side frozen at the base). Free minimum: δ_i from
/// r_i = (w_i − m)/s, ŵ_i = w_i + δ_i·s inside and q_i·s + m when clipped, m = σ(l)·min w live.
/// Its derivatives are exactly what §7.3 prescribes; L = Σ g_i·ŵ_i.
/// </summary>
internal sealed class LwcSurrogate
{
    private readonly LwcShape _shape;
    private readonly double _minScale, _maxScale;
    private readonly double[] _g, _delta, _zero, _clippedCode;
    private readonly bool[] _inside;

    public LwcSurrogate(LwcShape shape, double[] w, double[] u, double[] l, double[] g, double minScale, double maxScale)
    {
        (_minScale, _maxScale) = (minScale, maxScale);
        _shape = shape;
        _g = g;
        int n = (int)shape.Elements;
        var wq = new double[n];
        var codes = new double[n];
        var s = new double[shape.GroupCount];
        _zero = new double[shape.GroupCount];
        var mx = new double[shape.GroupCount];
        var mn = new double[shape.GroupCount];
        LwcFakeQuantDouble.Forward(wq, codes, s, _zero, mx, mn, w, u, l, shape, _minScale, _maxScale);
        _delta = new double[n];
        _inside = new bool[n];
        _clippedCode = codes;
        for (int i = 0; i < n; i++)
        {
            int p = GroupIndex(i);
            double x = shape.FreeMinimum ? (w[i] - _zero[p]) / s[p] : w[i] / s[p], rr = Math.Round(x, MidpointRounding.ToEven);
            _delta[i] = rr - x;
            double c = shape.FreeMinimum ? rr : rr + _zero[p];
            _inside[i] = c >= 0 && c <= shape.MaxCode;
        }
    }

    public int GroupIndex(int i) =>
        i / _shape.Cols * _shape.Groups + _shape.Layout.GroupOf(i % _shape.Cols);

    /// <summary>L restricted to one group (<paramref name="only"/>), or over all groups (−1). A parameter moves only
    /// its own group's terms, so its differences are taken over that group alone (less roundoff).</summary>
    public double Loss(double[] w, double[] u, double[] l, int only = -1)
    {
        double loss = 0;
        var layout = _shape.Layout;
        for (int r = 0; r < _shape.Rows; r++)
        for (int j = 0; j < _shape.Groups; j++)
        {
            if (only >= 0 && r * _shape.Groups + j != only) continue;
            int start = r * _shape.Cols + layout.StartOf(j), end = start + layout.LengthOf(j), p = r * _shape.Groups + j;
            double mx = double.NegativeInfinity, mn = double.PositiveInfinity;
            for (int i = start; i < end; i++) { mx = Math.Max(mx, w[i]); mn = Math.Min(mn, w[i]); }
            // Symmetric: the side is the base point's decision (z is frozen with it).
            double raw = _shape.Symmetric
                ? LwcFakeQuantDouble.Sigmoid(u[p]) * (_zero[p] == _shape.Half ? -mn : mx) / _shape.Half
                : (LwcFakeQuantDouble.Sigmoid(u[p]) * mx - LwcFakeQuantDouble.Sigmoid(l[p]) * mn) / _shape.MaxCode;
            double s = Math.Clamp(raw, _minScale, _maxScale);
            if (_shape.FreeMinimum)
            {
                double m = LwcFakeQuantDouble.Sigmoid(l[p]) * mn;
                for (int i = start; i < end; i++)
                    loss += _g[i] * (_inside[i] ? w[i] + _delta[i] * s : _clippedCode[i] * s + m);
                continue;
            }
            for (int i = start; i < end; i++)
                loss += _g[i] * (_inside[i] ? w[i] + _delta[i] * s : (_clippedCode[i] - _zero[p]) * s);
        }
        return loss;
    }
}
