using QuantNative.Formats.Gptq;

namespace QuantNative.Tests.Formats.Gptq;

public static class PackedGptqLinearTestExtensions
{
    extension(PackedGptqLinear p)
    {
        /// <summary>Whether the shapes are the exact n·bits/32 that external runtimes compute (no padded words).</summary>
        public bool HasRuntimeShapes => BitStream32.IsExact(p.InFeatures, p.Bits) && BitStream32.IsExact(p.OutFeatures, p.Bits);
    }
}
