using QuantNative.Formats;
using QuantNative.Model;

namespace QuantNative.Tests.Cli;

/// <summary>
/// A trained model made wide enough for the K-quants (rows of 256) without changing what it computes: zeros appended
/// to the hidden size, the intermediate size and the number of heads (kv heads in proportion, so query head h still
/// reads kv head h·kv/heads). RMSNorm's mean then runs over width = f·hidden elements, so eps becomes eps/f and the norm
/// weights γ/√f: γ/√f · x/√(Σx²/(f·h) + eps/f) = γ · x/√(Σx²/h + eps). With f = 4 both are exact in float, and the model
/// is the same function up to summation order. Added heads have zero q, k and v (their attention output is zero);
/// added rows and columns of o, gate, up and down are zero.
/// </summary>
public static class PaddedModel
{
    public static InMemoryModelSource Widen(IModelSource source, int width)
    {
        var c = source.Config;
        if (width % c.HiddenSize != 0 || width / c.HiddenSize is not (1 or 4 or 16) || width % c.HeadDim != 0 || width < c.IntermediateSize)
            throw new ArgumentException($"width {width} does not widen hidden {c.HiddenSize} by a power-of-four factor");
        int factor = width / c.HiddenSize, heads = width / c.HeadDim, kvHeads = heads * c.NumKvHeads / c.NumHeads;
        float normScale = 1f / MathF.Sqrt(factor);
        var w = c with
        {
            HiddenSize = width, IntermediateSize = width, NumHeads = heads, NumKvHeads = kvHeads, HeadDim = c.HeadDim,
            RmsNormEps = c.RmsNormEps / factor,
        };
        float[] Pad(float[] m, int rows, int cols, int newRows, int newCols, float scale = 1f)
        {
            var r = new float[(long)newRows * newCols];
            for (int i = 0; i < rows; i++)
            for (int j = 0; j < cols; j++) r[(long)i * newCols + j] = m[(long)i * cols + j] * scale;
            return r;
        }
        var blocks = Enumerable.Range(0, c.NumLayers).Select(i =>
        {
            var b = source.LoadBlock(i);
            return new LlamaBlockWeights
            {
                AttnNorm = Pad(b.AttnNorm, 1, c.HiddenSize, 1, width, normScale),
                Wq = Pad(b.Wq, c.QDim, c.HiddenSize, w.QDim, width),
                Wk = Pad(b.Wk, c.KvDim, c.HiddenSize, w.KvDim, width),
                Wv = Pad(b.Wv, c.KvDim, c.HiddenSize, w.KvDim, width),
                Wo = Pad(b.Wo, c.HiddenSize, c.QDim, width, w.QDim),
                FfnNorm = Pad(b.FfnNorm, 1, c.HiddenSize, 1, width, normScale),
                WGate = Pad(b.WGate, c.IntermediateSize, c.HiddenSize, width, width),
                WUp = Pad(b.WUp, c.IntermediateSize, c.HiddenSize, width, width),
                WDown = Pad(b.WDown, c.HiddenSize, c.IntermediateSize, width, width),
            };
        }).ToList();
        return new InMemoryModelSource(w, Pad(source.LoadTokenEmbedding(), c.VocabSize, c.HiddenSize, c.VocabSize, width), blocks,
            Pad(source.LoadFinalNorm(), 1, c.HiddenSize, 1, width, normScale),
            c.TieWordEmbeddings ? null : Pad(source.LoadOutput(), c.VocabSize, c.HiddenSize, c.VocabSize, width), $"{source.Path} widened to {width}");
    }
}
