namespace QuantNative.Cuda;

/// <summary>
/// Kernel names and launch configurations of kernels/train/ (the block's ops on the CUDA backend) and the C# side of
/// their stated assumptions (see each .cu file's header): 32-bit element indices, one block per row (RMSNorm, RoPE)
/// or per (query row, head) / (key row, kv head) for attention, grid-stride loops for the elementwise ops, and the
/// attention's dynamic shared memory within the 48 KiB every architecture grants without opting in. A call that
/// breaks them is refused here with a message naming the kernel and the sizes, before anything reaches the device.
/// </summary>
public static class TrainLaunch
{
    public const string Family = "train";

    public const string RmsNormForward = "qn_rmsnorm_forward_f32";
    public const string RmsNormBackward = "qn_rmsnorm_backward_f32";
    public const string RmsNormGammaBackward = "qn_rmsnorm_gamma_backward_f32";
    public const string RopeForward = "qn_rope_forward_f32";
    public const string RopeBackward = "qn_rope_backward_f32";
    public const string AttentionForward = "qn_attention_forward_f32";
    public const string AttentionBackward = "qn_attention_backward_f32";
    public const string AttentionKvBackward = "qn_attention_kv_backward_f32";
    public const string SwiGluForward = "qn_swiglu_forward_f32";
    public const string SwiGluBackward = "qn_swiglu_backward_f32";
    public const string MseForward = "qn_mse_forward_f32";
    public const string MseBackward = "qn_mse_backward_f32";
    public const string AdamWStep = "qn_adamw_step_f32";
    public const string Add = "qn_add_f32";
    public const string AddBias = "qn_add_bias_f32";
    public const string SdeColumns = "qn_sde_columns_f32";
    public const string SdeMaskedDot = "qn_sde_masked_dot_f32";

    /// <summary>Threads of the row, elementwise and attention kernels (a multiple of 32; the kernels assume it).</summary>
    public const int Threads = 256;

    /// <summary>Threads of the attention kernels: 4 warps; the key/value kernel keeps one accumulator row per warp.</summary>
    public const int AttentionThreads = 128;

    /// <summary>Blocks of the MSE loss reduction at most (one double partial each, summed on the host).</summary>
    public const int MseMaxBlocks = 1024;

    /// <summary>Dynamic shared memory a kernel may use without cuFuncSetAttribute on every architecture.</summary>
    public const int MaxDynamicShared = 48 * 1024;

    /// <summary>Refuses element counts the kernels cannot index with 32-bit ints.</summary>
    public static void Int32Elements(string kernel, string what, long count)
    {
        if (count > int.MaxValue)
            throw new QuantNativeException(
                $"{kernel}: {what} = {count} elements; the kernel indexes at most {int.MaxValue} (32-bit)");
    }

    /// <summary>Blocks of <see cref="Threads"/> threads for a grid-stride loop over <paramref name="count"/>.</summary>
    public static Dim3 ElementwiseGrid(long count) => new((uint)Math.Min((count + Threads - 1) / Threads, 65535));

    /// <summary>Keys one attention query row holds in shared memory: all T without a window, at most W with one (the
    /// kernels index a row from its earliest key, so a sliding window lets longer sequences fit).</summary>
    public static long AttentionRowKeys(int tokens, int window) => window > 0 ? Math.Min(tokens, window) : tokens;

    /// <summary>The attention kernels' dynamic shared memory in bytes, refused above <see cref="MaxDynamicShared"/>.</summary>
    public static uint AttentionShared(string kernel, long floats, string sizes)
    {
        long bytes = floats * sizeof(float);
        if (bytes > MaxDynamicShared)
            throw new QuantNativeException(
                $"{kernel} {sizes}: needs {bytes} bytes of dynamic shared memory, more than {MaxDynamicShared} " +
                "(a window that long needs a tiled attention kernel)");
        return (uint)bytes;
    }
}
