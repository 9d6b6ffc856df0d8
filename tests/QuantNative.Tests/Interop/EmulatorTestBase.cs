using System.Runtime.InteropServices;
using NUnit.Framework;
using QuantNative.Interop;

namespace QuantNative.Tests.Interop;

/// <summary>
/// Shared plumbing of the emulator's tests: loads the self-test kernels (native/tests/kernels, built into
/// libqn_emulator_selftest.so), launches a kernel with managed arrays and scalars as its arguments (arrays are
/// pinned and passed as device pointers: host memory stands in for device memory), restores the emulator's options
/// after each test, and hands out seeded random generators whose seed is printed for reproduction.
/// </summary>
public abstract class EmulatorTestBase
{
    private long savedHostThreads;
    private long savedUcontext;

    [OneTimeSetUp]
    public void LoadSelfTestKernels() => NativeLibraries.Require(NativeLibraries.EmulatorSelfTest);

    [SetUp]
    public void SaveOptions()
    {
        savedHostThreads = Emulator.GetOption("host_threads");
        savedUcontext = Emulator.GetOption("ucontext");
    }

    [TearDown]
    public void RestoreOptions()
    {
        Emulator.SetOption("host_threads", savedHostThreads);
        Emulator.SetOption("ucontext", savedUcontext);
    }

    protected static Random NewRandom()
    {
        int seed = Random.Shared.Next();
        TestContext.Out.WriteLine($"random seed {seed}");
        return new Random(seed);
    }

    /// <summary>
    /// Launches <paramref name="kernel"/> with <paramref name="args"/>: each array is copied into 256-byte aligned
    /// native memory (as cudaMalloc aligns device memory), passed as a pointer, and copied back after the launch;
    /// int, uint, long, float and double are passed by value. The count and byte size of the arguments go with them:
    /// the emulator checks them against what the kernel declares, so a test cannot pass an argument of the wrong type.
    /// </summary>
    protected static unsafe void Launch(string kernel, (uint X, uint Y, uint Z) grid, (uint X, uint Y, uint Z) block,
        uint sharedBytes, params object[] args)
    {
        var buffers = new List<(Array Array, IntPtr Memory, long Bytes)>();
        byte* values = (byte*)NativeMemory.AllocZeroed((nuint)Math.Max(1, args.Length) * 8);
        void** pointers = (void**)NativeMemory.AllocZeroed((nuint)Math.Max(1, args.Length) * (nuint)sizeof(void*));
        var sizes = new uint[args.Length];
        try
        {
            for (int i = 0; i < args.Length; i++)
            {
                byte* slot = values + i * 8;
                uint size;
                switch (args[i])
                {
                    case Array array:
                        long bytes = Buffer.ByteLength(array);
                        var memory = (IntPtr)NativeMemory.AlignedAlloc((nuint)Math.Max(bytes, 1), 256);
                        buffers.Add((array, memory, bytes));
                        CopyArray(array, memory, bytes, toNative: true);
                        *(IntPtr*)slot = memory;
                        size = (uint)sizeof(IntPtr);
                        break;
                    case int v: *(int*)slot = v; size = 4; break;
                    case uint v: *(uint*)slot = v; size = 4; break;
                    case long v: *(long*)slot = v; size = 8; break;
                    case float v: *(float*)slot = v; size = 4; break;
                    case double v: *(double*)slot = v; size = 8; break;
                    default: throw new ArgumentException($"unsupported kernel argument type {args[i].GetType()}");
                }
                sizes[i] = size;
                pointers[i] = slot;
            }
            fixed (uint* pSizes = sizes)
                Emulator.Launch(kernel, grid, block, sharedBytes, pointers, args.Length, pSizes);
            foreach (var (array, memory, bytes) in buffers) CopyArray(array, memory, bytes, toNative: false);
        }
        finally
        {
            foreach (var (_, memory, _) in buffers) NativeMemory.AlignedFree((void*)memory);
            NativeMemory.Free(values);
            NativeMemory.Free(pointers);
        }
    }

    private static unsafe void CopyArray(Array array, IntPtr memory, long bytes, bool toNative)
    {
        var pin = GCHandle.Alloc(array, GCHandleType.Pinned);
        try
        {
            void* managed = (void*)pin.AddrOfPinnedObject();
            if (toNative) Buffer.MemoryCopy(managed, (void*)memory, bytes, bytes);
            else Buffer.MemoryCopy((void*)memory, managed, bytes, bytes);
        }
        finally
        {
            pin.Free();
        }
    }

    protected static void Launch1D(string kernel, uint blocks, uint threads, params object[] args) =>
        Launch(kernel, (blocks, 1, 1), (threads, 1, 1), 0, args);

    /// <summary>Launches and returns the emulator's error; fails the test if the launch succeeds or hangs.</summary>
    protected static EmulatorException LaunchExpectingError(string kernel, (uint X, uint Y, uint Z) grid,
        (uint X, uint Y, uint Z) block, uint sharedBytes, params object[] args)
    {
        var task = Task.Run(() => Launch(kernel, grid, block, sharedBytes, args));
        bool finished;
        try
        {
            finished = task.Wait(TimeSpan.FromSeconds(20));
        }
        catch (AggregateException)
        {
            finished = true;
        }
        Assert.That(finished, Is.True, $"{kernel} hung");
        Assert.That(task.IsFaulted, Is.True, $"{kernel} was expected to fail but succeeded");
        var error = task.Exception!.InnerException;
        Assert.That(error, Is.InstanceOf<EmulatorException>(), error?.ToString());
        return (EmulatorException)error!;
    }

    protected static float[] NaNs(int n) => Enumerable.Repeat(float.NaN, n).ToArray();
    protected static int[] Poison(int n) => Enumerable.Repeat(unchecked((int)0x7fbadbad), n).ToArray();
    protected static uint[] PoisonU(int n) => Enumerable.Repeat(0x7fbadbadu, n).ToArray();
    protected static ushort[] PoisonH(int n) => Enumerable.Repeat((ushort)0x7e5a, n).ToArray();
}
