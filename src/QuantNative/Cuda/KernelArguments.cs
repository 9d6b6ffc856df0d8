using System.Runtime.InteropServices;

namespace QuantNative.Cuda;

/// <summary>
/// The <c>void**</c> argument array of <c>cuLaunchKernel</c> (and of the emulator's launch): element i points to the
/// value of kernel parameter i. Values live in 8-byte slots of native memory owned by this object; add them in the
/// kernel's parameter order with the parameter's exact type (int and float are 4 bytes, pointers 8). The byte size of
/// each value is kept next to it (<see cref="Sizes"/>): the emulator checks the count and every size against the
/// kernel's parameter list, so an argument list that does not match the kernel fails every emulated launch.
/// </summary>
public sealed unsafe class KernelArguments : IDisposable
{
    private readonly byte* _values;
    private readonly void** _pointers;
    private readonly uint* _sizes;
    private readonly int _capacity;

    public KernelArguments(int capacity)
    {
        _capacity = capacity;
        _values = (byte*)NativeMemory.AllocZeroed((nuint)capacity * 8);
        _pointers = (void**)NativeMemory.AllocZeroed((nuint)capacity * (nuint)sizeof(void*));
        _sizes = (uint*)NativeMemory.AllocZeroed((nuint)Math.Max(capacity, 1) * sizeof(uint));
    }

    public int Count { get; private set; }

    public void** Pointers => _pointers;

    /// <summary>The byte size of each of the <see cref="Count"/> values, in order.</summary>
    public uint* Sizes => _sizes;

    private byte* Next(uint size)
    {
        if (Count == _capacity) throw new InvalidOperationException($"more than {_capacity} kernel arguments");
        byte* slot = _values + Count * 8;
        _sizes[Count] = size;
        _pointers[Count++] = slot;
        return slot;
    }

    public KernelArguments Add(DevicePtr p)
    {
        *(ulong*)Next(sizeof(ulong)) = p.Address;
        return this;
    }

    public KernelArguments Add(int v)
    {
        *(int*)Next(sizeof(int)) = v;
        return this;
    }

    public KernelArguments Add(float v)
    {
        *(float*)Next(sizeof(float)) = v;
        return this;
    }

    public void Dispose()
    {
        NativeMemory.Free(_values);
        NativeMemory.Free(_pointers);
        NativeMemory.Free(_sizes);
    }
}
