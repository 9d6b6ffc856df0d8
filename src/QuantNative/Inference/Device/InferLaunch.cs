using QuantNative.Cuda;

namespace QuantNative.Inference.Device;

/// <summary>
/// Kernel names and launch configurations of kernels/infer/ (the device decode path's own kernels: embedding lookup,
/// float32 → fp16, decode attention over the KV cache, argmax) and the C# side of their stated assumptions (each .cu
/// file's header): 32-bit element indices, grid-stride loops for the elementwise kernels, one block per (query row,
/// head) for the attention with its row of scores in at most 48 KiB of dynamic shared memory, one block for the argmax.
/// A call that breaks them is refused here with a message naming the kernel and the sizes.
/// </summary>
public static class InferLaunch
{
    public const string Family = "infer";

    public const string EmbeddingLookup = "qn_embedding_lookup_f32";
    public const string ToHalf = "qn_f32_to_f16";
    public const string AttentionDecode = "qn_attention_decode_f32";
    public const string ArgMax = "qn_argmax_f32";

    /// <summary>Threads of the elementwise kernels (grid-stride).</summary>
    public const int Threads = 256;

    /// <summary>Threads of the decode attention: 4 warps per (query row, head).</summary>
    public const int AttentionThreads = 128;

    /// <summary>Threads of the argmax's single block.</summary>
    public const int ArgMaxThreads = 1024;

    /// <summary>Keys one query row of the decode attention sees at most (the floats of its shared memory): the whole
    /// context without a window, at most W with one.</summary>
    public static long AttentionKeys(int context, int window) => window > 0 ? Math.Min(context, window) : context;

    /// <summary>The decode attention's dynamic shared memory for a context of <paramref name="context"/> positions,
    /// refused above <see cref="TrainLaunch.MaxDynamicShared"/> (checked when a session is made, not per step).</summary>
    public static uint AttentionShared(int context, int window)
    {
        long bytes = AttentionKeys(context, window) * sizeof(float);
        if (bytes > TrainLaunch.MaxDynamicShared)
            throw new QuantNativeException(
                $"{AttentionDecode}: a context of {context} tokens{(window > 0 ? $" (window {window})" : "")} needs " +
                $"{bytes} bytes of shared memory per query row, more than {TrainLaunch.MaxDynamicShared}: the device decode " +
                $"path holds at most {TrainLaunch.MaxDynamicShared / sizeof(float)} keys per row (a longer context needs a " +
                "split-K attention kernel; use --device cpu or a shorter context)");
        return (uint)bytes;
    }

    /// <summary>Blocks of <see cref="Threads"/> for a grid-stride loop over <paramref name="count"/>, which must fit
    /// the kernels' 32-bit indices.</summary>
    public static Dim3 Elementwise(string kernel, long count)
    {
        TrainLaunch.Int32Elements(kernel, "count", count);
        return new Dim3((uint)Math.Max(1, Math.Min((count + Threads - 1) / Threads, 65535)));
    }
}
