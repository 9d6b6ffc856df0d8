using QuantNative.Cuda;

namespace QuantNative.Verification;

/// <summary>
/// A test hook for `qn test-backend`: a runtime that launches another kernel in place of a named one, so a test can
/// plant a deliberately wrong kernel (e.g. RoPE's backward, which rotates the other way, for its forward: the same
/// parameter list, different maths) and see the tool report FAIL. Read from QN_TEST_SWAP_KERNEL=name=replacement[,…];
/// without the variable the runtime is used as it is.
/// </summary>
public sealed class KernelSwappingRuntime(ICudaRuntime inner, IReadOnlyDictionary<string, string> swaps)
    : ForwardingCudaRuntime(inner)
{
    public const string Variable = "QN_TEST_SWAP_KERNEL";

    /// <summary>The swaps QN_TEST_SWAP_KERNEL asks for (empty without it).</summary>
    public static IReadOnlyDictionary<string, string> FromEnvironment()
    {
        var map = new Dictionary<string, string>();
        var value = Environment.GetEnvironmentVariable(Variable);
        if (string.IsNullOrWhiteSpace(value)) return map;
        foreach (var item in value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var parts = item.Split('=');
            if (parts.Length != 2 || parts[0].Length == 0 || parts[1].Length == 0)
                throw new QuantNativeException($"{Variable}: '{item}': expected kernel=replacement");
            map[parts[0]] = parts[1];
        }
        return map;
    }

    public override void Launch(string kernel, Dim3 grid, Dim3 block, uint sharedMemBytes, KernelArguments args) =>
        base.Launch(swaps.TryGetValue(kernel, out var other) ? other : kernel, grid, block, sharedMemBytes, args);
}
