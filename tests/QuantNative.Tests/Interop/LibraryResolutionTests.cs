using NUnit.Framework;
using QuantNative.Interop;

namespace QuantNative.Tests.Interop;

/// <summary>
/// Where the system libraries are looked for (NativeLibraries.SystemCandidates), on a fake directory tree of named
/// files: the bundle's folder first, then the system's search by versioned name (newest first), then a CUDA toolkit's
/// lib64 ($CUDA_HOME, /usr/local/cuda) for the CUDA libraries only.
/// </summary>
public class LibraryResolutionTests
{
    private string _root = "";

    [SetUp]
    public void CreateTree() => _root = Directory.CreateTempSubdirectory("qn-libs-").FullName;

    [TearDown]
    public void RemoveTree() => Directory.Delete(_root, recursive: true);

    private string Touch(params string[] parts)
    {
        var path = Path.Combine([_root, .. parts]);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, []);
        return path;
    }

    [Test]
    public void Cublas_NewestVersionFirst_FromTheBundleTheSystemAndCudaHome()
    {
        string bundle = Path.Combine(_root, "bundle"), home = Path.Combine(_root, "cuda-13");
        var inHome13 = Touch("cuda-13", "lib64", "libcublas.so.13");
        var inBundle12 = Touch("bundle", "libcublas.so.12");
        var list = NativeLibraries.SystemCandidates(NativeLibraries.Cublas, bundle, home, File.Exists);
        Assert.That(list.Take(5), Is.EqualTo(new[]
        {
            "libcublas.so.13", inHome13, // .13 by the system's search, then in $CUDA_HOME/lib64
            inBundle12, "libcublas.so.12", // .12: the bundle's file before the system's
            "libcublas.so.11",
        }));
    }

    [Test]
    public void Cusolver_TriesTwelveThenEleven_AndTheToolkitsTargetsFolder()
    {
        string home = Path.Combine(_root, "cuda");
        var eleven = Touch("cuda", "targets", "x86_64-linux", "lib", "libcusolver.so.11");
        var list = NativeLibraries.SystemCandidates(NativeLibraries.Cusolver, Path.Combine(_root, "none"), home, File.Exists);
        Assert.That(list, Does.Contain(eleven));
        Assert.That(list.IndexOf("libcusolver.so.12"), Is.LessThan(list.IndexOf("libcusolver.so.11")));
        Assert.That(list.IndexOf("libcusolver.so.11"), Is.LessThan(list.IndexOf(eleven)));
        Assert.That(list, Has.None.Contains("so.13"), "cuSOLVER of CUDA 13 keeps soname .12");
    }

    [Test]
    public void OpenBlas_TakesTheBundlesCopy_AndIgnoresCudaHome()
    {
        string bundle = Path.Combine(_root, "bundle"), home = Path.Combine(_root, "cuda");
        var ours = Touch("bundle", "libopenblas.so.0");
        Touch("cuda", "lib64", "libopenblas.so.0");
        var list = NativeLibraries.SystemCandidates(NativeLibraries.OpenBlas, bundle, home, File.Exists);
        Assert.That(list[0], Is.EqualTo(ours));
        Assert.That(list, Has.None.StartsWith(home), "only the CUDA libraries are looked for in a toolkit");
    }

    [Test]
    public void WithoutFiles_OnlyTheNamesForTheSystemsSearch()
    {
        var list = NativeLibraries.SystemCandidates(NativeLibraries.Cuda, Path.Combine(_root, "x"), null, _ => false);
        Assert.That(list, Is.EqualTo(new[] { "libcuda.so.1", "libcuda.so", "nvcuda.dll" }));
    }
}
