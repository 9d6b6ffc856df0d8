using QuantNative.Model.Quantized;

namespace QuantNative.Formats.Gptq;

/// <summary>
/// The one way to make a matrix with zero points of 0 storable in checkpoint format v1 (which stores zero − 1): move
/// each such zero to 1 and every code of its group up by one. (q + 1 − 1)·s = q·s, so the dequantized weights are
/// unchanged except codes that were already qmax, which stay qmax and lose one step s. The result reports both counts
/// so the summary can say what v1 cost.
/// </summary>
public static class V1Zeros
{
    public sealed record Result(QuantizedMatrix Matrix, int ClampedGroups, int ClippedCodes);

    public static Result ClampToOne(QuantizedMatrix m, string tensor = "weight")
    {
        int groups = m.Groups, qmax = m.Config.MaxCode;
        var zeros = (int[])m.Zeros.Clone();
        var codes = (byte[])m.Codes.Clone();
        int clampedGroups = 0, clippedCodes = 0;
        for (int r = 0; r < m.Rows; r++)
        {
            int paramRow = r * groups;
            bool any = false;
            for (int g = 0; g < groups; g++)
                if (zeros[paramRow + g] == 0) { any = true; clampedGroups++; }
            if (!any) continue;
            for (int c = 0; c < m.Columns; c++)
            {
                if (m.Zeros[paramRow + m.GroupIndex[c]] != 0) continue;
                int i = r * m.Columns + c;
                if (codes[i] == qmax) clippedCodes++;
                else codes[i]++;
            }
            for (int g = 0; g < groups; g++)
                if (zeros[paramRow + g] == 0) zeros[paramRow + g] = 1;
        }
        var matrix = new QuantizedMatrix(m.Rows, m.Columns, m.Config, codes, (float[])m.Scales.Clone(), zeros,
            (int[])m.GroupIndex.Clone(), tensor);
        return new Result(matrix, clampedGroups, clippedCodes);
    }
}
