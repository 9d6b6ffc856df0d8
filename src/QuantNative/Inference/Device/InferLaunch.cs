using QuantNative.Cuda;
using QuantNative.Formats;

namespace QuantNative.Inference.Device;

/// <summary>
/// Kernel names and launch configurations of kernels/infer/ (the device decode path's own kernels: embedding lookup,
/// float32 → fp16, decode attention over the KV cache, argmax) and the C# side of their stated assumptions (each .cu
/// file's header): 32-bit element indices, grid-stride loops for the elementwise kernels, one block per (query row,
/// head) for the attention with its row of scores in at most 48 KiB of dynamic shared memory (longer rows split into
/// chunks of keys and combined: <see cref="AttentionSplit"/>), one block for the argmax.
/// A call that breaks them is refused here with a message naming the kernel and the sizes.
/// </summary>
public static class InferLaunch
{
    public const string Family = "infer";

    public const string EmbeddingLookup = "qn_embedding_lookup_f32";
    public const string ToHalf = "qn_f32_to_f16";
    public const string AttentionDecode = "qn_attention_decode_f32";
    public const string AttentionDecodeSplit = "qn_attention_decode_split_f32";
    public const string AttentionCombine = "qn_attention_combine_f32";
    public const string ArgMax = "qn_argmax_f32";

    /// <summary>The embedding lookup of a table stored as <paramref name="dtype"/> (kernels/infer/embedding.cu).</summary>
    public static string EmbeddingLookupOf(FloatDType dtype) => dtype switch
    {
        FloatDType.BF16 => "qn_embedding_lookup_bf16", FloatDType.F16 => "qn_embedding_lookup_f16", _ => EmbeddingLookup,
    };

    /// <summary>The dense GEMV on 16-bit weights (kernels/infer/dense16.cu).</summary>
    public static string Dense16Gemv(FloatDType dtype) => dtype switch
    {
        FloatDType.BF16 => "qn_dense16_gemv_bf16", FloatDType.F16 => "qn_dense16_gemv_f16",
        _ => throw new ArgumentException($"{dtype}: the dense GEMV takes BF16 or F16 weights"),
    };

    /// <summary>16-bit → float32 widening (kernels/infer/dense16.cu).</summary>
    public static string Widen(FloatDType dtype) => dtype switch
    {
        FloatDType.BF16 => "qn_widen_bf16_f32", FloatDType.F16 => "qn_widen_f16_f32",
        _ => throw new ArgumentException($"{dtype}: only BF16 and F16 are widened"),
    };

    /// <summary>Tokens the dense GEMV takes at once (one float32 sum per token per lane); more go through Sgemm.</summary>
    public const int Dense16MaxTokens = 8;

    /// <summary>Threads of the dense GEMV: 4 warps.</summary>
    public const int Dense16Threads = 128;

    /// <summary>Lanes of a warp that share one output row of the dense GEMV: the smallest power of two ≥ k/16 (each
    /// lane sums ≥ ~16 weights), 1..32. Narrow rows pack several per warp, so few lanes idle and — on the emulator —
    /// few warp shuffles per row.</summary>
    public static int Dense16LanesPerRow(int k)
    {
        int lanes = 1;
        while (lanes < 32 && lanes * 16 < k) lanes *= 2;
        return lanes;
    }

    /// <summary>Weights widened to float32 at a time for a 16-bit product of more than <see cref="Dense16MaxTokens"/>
    /// tokens (16 MiB of scratch): the float32 copy is one slice of rows, never the tensor.</summary>
    public const int WidenSliceWeights = 4 << 20;

    /// <summary>Threads of the elementwise kernels (grid-stride).</summary>
    public const int Threads = 256;

    /// <summary>Threads of the decode attention: 4 warps per (query row, head).</summary>
    public const int AttentionThreads = 128;

    /// <summary>Threads of the argmax's single block.</summary>
    public const int ArgMaxThreads = 1024;

    /// <summary>Keys one query row of the decode attention sees at most (the floats of its shared memory): the whole
    /// context without a window, at most W with one.</summary>
    public static long AttentionKeys(int context, int window) => window > 0 ? Math.Min(context, window) : context;

    /// <summary>Keys one block of the decode attention holds in its shared memory: a longer row is split.</summary>
    public const int AttentionMaxKeys = TrainLaunch.MaxDynamicShared / sizeof(float);

    /// <summary>Keys per chunk of a split row: 4096 (16 KiB of shared memory, several blocks per SM) gives a 32-head
    /// model's 13k-key row 128 blocks where one block per head would leave most of an H100's 132 SMs idle.</summary>
    public const int AttentionSplitChunk = 4096;

    /// <summary>How the decode attention runs a context of <paramref name="context"/> positions: one block per row
    /// (chunk = the row's keys, 1 split) up to <see cref="AttentionMaxKeys"/>, else chunks of
    /// <paramref name="chunk"/> keys (<see cref="AttentionSplitChunk"/> unless a test asks for another).</summary>
    public static (int Chunk, int Splits) AttentionSplit(int context, int window, int? chunk = null)
    {
        long keys = AttentionKeys(context, window);
        int c = chunk ?? (keys <= AttentionMaxKeys ? (int)keys : AttentionSplitChunk);
        if (c < 1 || c > AttentionMaxKeys)
            throw new QuantNativeException($"{AttentionDecodeSplit}: chunk of {c} keys; expected 1..{AttentionMaxKeys}");
        return (c, (int)((keys + c - 1) / c));
    }

    /// <summary>Blocks of <see cref="Threads"/> for a grid-stride loop over <paramref name="count"/>, which must fit
    /// the kernels' 32-bit indices.</summary>
    public static Dim3 Elementwise(string kernel, long count)
    {
        TrainLaunch.Int32Elements(kernel, "count", count);
        return new Dim3((uint)Math.Max(1, Math.Min((count + Threads - 1) / Threads, 65535)));
    }
}
