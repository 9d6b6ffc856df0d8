using QuantNative.Model.Quantized;

namespace QuantNative.Tests.Model.Quantized;

public static class QuantizedMatrixTestExtensions
{
    extension(QuantizedMatrix m)
    {
        /// <summary>Whether g_idx is the natural order (what runtimes without act-order support need).</summary>
        public bool HasNaturalGroupOrder()
        {
            for (int c = 0; c < m.Columns; c++)
                if (m.GroupIndex[c] != m.Layout.GroupOf(c)) return false;
            return true;
        }
    }
}
