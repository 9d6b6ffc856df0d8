using QuantNative.Cpu;

namespace QuantNative.Cuda;

/// <summary>
/// The launch configuration of kernels/quant/fakequant_lwc.cu and the C# side of its stated assumptions: one block
/// per (row, group), grid.x = rows·groups ≤ 2^31 − 1, a block of a multiple of 32 threads in [32, 1024]
/// (default min(256, group length rounded up to 32)), rows·cols ≤ 2^31 − 1. A shape that breaks them is refused here
/// with a message naming the kernel and the shape, before anything reaches the device.
/// </summary>
public static class LwcLaunch
{
    public const string Family = "quant";
    public const string ForwardKernel = "qn_fakequant_lwc_forward_f32";
    public const string BackwardKernel = "qn_fakequant_lwc_backward_f32";
    public const int MaxDefaultThreads = 256;

    public static int DefaultThreads(LwcShape shape) => Math.Min(MaxDefaultThreads, (shape.GroupLength + 31) / 32 * 32);

    public static (Dim3 Grid, Dim3 Block) Plan(string kernel, LwcShape shape, int? threads = null)
    {
        int t = threads ?? DefaultThreads(shape);
        if (t < 32 || t > 1024 || t % 32 != 0)
            throw new QuantNativeException(
                $"{kernel} {shape}: a block of {t} threads; the kernel needs a multiple of 32 in [32, 1024]");
        if (shape.GroupCount > int.MaxValue)
            throw new QuantNativeException(
                $"{kernel} {shape}: {shape.Rows} rows x {shape.Groups} groups = {shape.GroupCount} blocks; the kernel " +
                $"takes at most {int.MaxValue} (one block per group, 32-bit block index)");
        if (shape.Elements > int.MaxValue)
            throw new QuantNativeException(
                $"{kernel} {shape}: {shape.Rows} x {shape.Cols} = {shape.Elements} elements; at most {int.MaxValue}");
        return (new Dim3((uint)shape.GroupCount), new Dim3((uint)t));
    }
}
