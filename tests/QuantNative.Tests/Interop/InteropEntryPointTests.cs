using System.Reflection;
using System.Runtime.InteropServices;
using NUnit.Framework;
using QuantNative.Interop;

namespace QuantNative.Tests.Interop;

/// <summary>
/// Every [LibraryImport] of the CUDA driver, cuBLAS, cuSOLVER and LAPACKE classes names an export of the library the
/// resolver loads (C names verbatim): a misspelled or missing entry point fails here, without a GPU, wherever the
/// library is installed (a CUDA toolkit installs libcuda.so.1, libcublas and libcusolver even without a device).
/// </summary>
public class InteropEntryPointTests
{
    [TestCase(typeof(CudaDriver), NativeLibraries.Cuda)]
    [TestCase(typeof(Cublas), NativeLibraries.Cublas)]
    [TestCase(typeof(Cusolver), NativeLibraries.Cusolver)]
    [TestCase(typeof(Lapacke), NativeLibraries.Lapacke)]
    [TestCase(typeof(OpenBlas), NativeLibraries.OpenBlas)]
    public void EveryImport_IsExported(Type type, string library)
    {
        if (!NativeLibraries.IsAvailable(library)) Assert.Ignore($"{library} is not installed on this machine");
        IntPtr handle = NativeLibraries.Require(library);
        var imports = type.GetMethods(BindingFlags.Public | BindingFlags.Static)
            .Where(m => m.GetCustomAttribute<LibraryImportAttribute>() != null)
            .Select(m => m.GetCustomAttribute<LibraryImportAttribute>()!.EntryPoint ?? m.Name)
            .ToList();
        Assert.That(imports, Is.Not.Empty, $"{type.Name} declares imports");
        var missing = imports.Where(name => !NativeLibrary.TryGetExport(handle, name, out _)).ToList();
        Assert.That(missing, Is.Empty, $"entry points of {type.Name} missing from {library}");
        TestContext.Out.WriteLine($"{type.Name}: {imports.Count} entry points found");
    }
}
