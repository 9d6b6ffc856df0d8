using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using NUnit.Framework;
using QuantNative.Formats;
using QuantNative.Formats.Safetensors;

namespace QuantNative.Tests.Formats.Safetensors;

public class SafetensorsTests
{
    private string _dir = "";

    [SetUp] public void SetUp() => _dir = TestPaths.NewTempDir();
    [TearDown] public void TearDown() => Directory.Delete(_dir, recursive: true);

    /// <summary>A safetensors file built by hand: 8-byte length, the header text as given, the data bytes.</summary>
    internal static void WriteRaw(string path, string header, byte[] data, ulong? headerLength = null)
    {
        var json = Encoding.UTF8.GetBytes(header);
        var bytes = new byte[8 + json.Length + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, headerLength ?? (ulong)json.Length);
        json.CopyTo(bytes, 8);
        data.CopyTo(bytes, 8 + json.Length);
        File.WriteAllBytes(path, bytes);
    }

    [Test]
    public void ReadsAHandMadeFileOfEachFloatType()
    {
        var random = new Random(1);
        var f32 = RandomModels.Floats(random, 6);
        var f16 = Enumerable.Range(0, 4).Select(_ => (ushort)random.Next(0, 0x7C00)).ToArray();
        var bf16 = Enumerable.Range(0, 3).Select(_ => (ushort)random.Next(0, 0x7F80)).ToArray();
        var data = MemoryMarshal.AsBytes(f32.AsSpan()).ToArray()
            .Concat(MemoryMarshal.AsBytes(f16.AsSpan()).ToArray())
            .Concat(MemoryMarshal.AsBytes(bf16.AsSpan()).ToArray()).ToArray();
        string path = Path.Combine(_dir, "hand.safetensors");
        WriteRaw(path, """
            {"b":{"dtype":"F16","shape":[2,2],"data_offsets":[24,32]},
             "__metadata__":{"format":"pt"},
             "a":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},
             "c":{"dtype":"BF16","shape":[3],"data_offsets":[32,38]}}   
            """, data);

        using var file = SafetensorsFile.Open(path);
        Assert.That(file.Tensors.Select(t => t.Name), Is.EqualTo(new[] { "a", "b", "c" }), "data order");
        Assert.That(file.Info("b").Shape, Is.EqualTo(new long[] { 2, 2 }));
        Assert.That(file.Metadata, Is.EqualTo(new Dictionary<string, string> { ["format"] = "pt" }));
        RandomModels.AssertBits(f32, file.ReadFloats("a"), "F32");
        RandomModels.AssertBits(f16.Select(b => (float)BitConverter.UInt16BitsToHalf(b)).ToArray(), file.ReadFloats("b"), "F16");
        RandomModels.AssertBits(bf16.Select(b => BitConverter.UInt32BitsToSingle((uint)b << 16)).ToArray(), file.ReadFloats("c"), "BF16");
        Assert.That(file.ReadBytes("c"), Is.EqualTo(data[32..38]));
    }

    [TestCase(FloatDType.F32)]
    [TestCase(FloatDType.F16)]
    [TestCase(FloatDType.BF16)]
    public void WrittenTensorsReadBackAsTheirRoundedValues(FloatDType dtype)
    {
        var random = new Random(2);
        var tensors = new List<(string, long[], float[])>
        {
            ("weights.hard", [3, 7], ReferenceRounding.HardCases(3, 5).Take(21).ToArray()),
            ("weights.random", [5, 11, 2], RandomModels.Floats(random, 110)),
            ("scalar", [], RandomModels.Floats(random, 1)),
            ("empty", [0, 4], []),
        };
        var metadata = new Dictionary<string, string> { ["format"] = "pt", ["note"] = "round \"trip\" ✓" };
        string path = Path.Combine(_dir, "w.safetensors");
        SafetensorsWriter.WriteFile(path, tensors, dtype, metadata);

        using var file = SafetensorsFile.Open(path);
        Assert.That(file.Metadata, Is.EqualTo(metadata));
        Assert.That(file.Tensors.Select(t => t.Name), Is.EqualTo(tensors.Select(t => t.Item1)));
        foreach (var (name, shape, values) in tensors)
        {
            var info = file.Info(name);
            Assert.That(info.DType, Is.EqualTo(dtype.ToString()), name);
            Assert.That(info.Shape, Is.EqualTo(shape), name);
            Func<float, float>? round = dtype == FloatDType.F32 ? null : ReferenceRounding.For(dtype).Round;
            // The hard cases hold NaN and ±∞: read as data (the weight readers refuse them, see FiniteWeightTests).
            RandomModels.AssertBits(values, file.ReadFloats(name, finiteOnly: false), name, round);
        }
        Assert.That(Directory.GetFiles(_dir), Has.Length.EqualTo(1), "no temporary file left");
    }

    [Test]
    public void HeaderIsSpacePaddedToEightBytesAndIsPlainJson()
    {
        string path = Path.Combine(_dir, "p.safetensors");
        SafetensorsWriter.WriteFile(path, [("x", [3], [1f, 2f, 3f])], FloatDType.F32);
        var bytes = File.ReadAllBytes(path);
        long n = (long)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        Assert.That(n % 8, Is.Zero);
        Assert.That(8 + n + 12, Is.EqualTo(bytes.Length));
        string header = Encoding.UTF8.GetString(bytes, 8, (int)n);
        Assert.That(header.TrimEnd(' '), Does.EndWith("}"));
        using var doc = JsonDocument.Parse(header);
        var x = doc.RootElement.GetProperty("x");
        Assert.That(x.GetProperty("dtype").GetString(), Is.EqualTo("F32"));
        Assert.That(x.GetProperty("data_offsets").EnumerateArray().Select(e => e.GetInt64()), Is.EqualTo(new long[] { 0, 12 }));
    }

    [Test]
    public void UncommittedWriterLeavesNoFile()
    {
        string path = Path.Combine(_dir, "u.safetensors");
        using (var writer = new SafetensorsWriter(path, [new SafetensorsTensorSpec("a", "F32", [2]), new SafetensorsTensorSpec("b", "F16", [1])]))
        {
            writer.Write("a", [1f, 2f]);
            Assert.Throws<InvalidOperationException>(writer.Commit, "b was never written");
        }
        Assert.That(Directory.GetFileSystemEntries(_dir), Is.Empty);
    }

    [Test]
    public void RawBytesOfOtherDTypesAreWrittenAndRead()
    {
        string path = Path.Combine(_dir, "i.safetensors");
        var ints = new[] { 1, -2, int.MaxValue };
        using (var writer = new SafetensorsWriter(path, [new SafetensorsTensorSpec("q", "I32", [3])]))
        {
            writer.WriteBytes("q", MemoryMarshal.AsBytes(ints.AsSpan()));
            writer.Commit();
        }
        using var file = SafetensorsFile.Open(path);
        Assert.That(MemoryMarshal.Cast<byte, int>(file.ReadBytes("q")).ToArray(), Is.EqualTo(ints));
    }

    [Test]
    public void UnsupportedDTypeNamesDTypeTensorAndFile()
    {
        string path = Path.Combine(_dir, "i.safetensors");
        WriteRaw(path, """{"model.qweight":{"dtype":"I32","shape":[2],"data_offsets":[0,8]}}""", new byte[8]);
        using var file = SafetensorsFile.Open(path);
        var e = Assert.Throws<QuantNativeException>(() => file.ReadFloats("model.qweight"));
        Assert.That(e!.Message, Is.EqualTo($"unsupported dtype I32 for tensor 'model.qweight' in {path} (expected F32, F16 or BF16)"));
    }

    [Test]
    public void MissingTensorIsNamed()
    {
        string path = Path.Combine(_dir, "m.safetensors");
        SafetensorsWriter.WriteFile(path, [("x", [1], [1f])], FloatDType.F32);
        using var file = SafetensorsFile.Open(path);
        var e = Assert.Throws<QuantNativeException>(() => file.ReadFloats("y"));
        Assert.That(e!.Message, Does.Contain(path).And.Contain("'y'").And.Contain("not found"));
    }

    private static IEnumerable<TestCaseData> BadFiles()
    {
        const string ok = """{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}""";
        TestCaseData Case(string name, string header, int dataBytes, string expected, ulong? length = null) =>
            new TestCaseData(header, dataBytes, length, expected).SetName($"{{m}}({name})");
        yield return Case("header_length_beyond_file", ok, 8, "runs past the end", length: 1000);
        yield return Case("header_length_huge", ok, 8, "runs past the end", length: ulong.MaxValue);
        yield return Case("header_not_json", "{\"a\": {\"dtype\": ", 8, "not valid JSON");
        yield return Case("header_garbage", "\u0001\u0002binary", 8, "not valid JSON");
        yield return Case("header_not_object", "[1, 2, 3]", 8, "expected an object");
        yield return Case("offsets_out_of_range", """{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}""", 4, "outside the 4-byte data section");
        yield return Case("offsets_reversed", """{"a":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}}""", 8, "outside");
        yield return Case("size_not_shape", """{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}""", 8, "needs 12");
        yield return Case("size_not_dtype", """{"a":{"dtype":"F16","shape":[2],"data_offsets":[0,8]}}""", 8, "needs 4");
        yield return Case("overlapping", """{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}""", 12, "overlap");
        yield return Case("negative_dim", """{"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}""", 8, "non-negative");
        yield return Case("no_dtype", """{"a":{"shape":[2],"data_offsets":[0,8]}}""", 8, "dtype");
        yield return Case("duplicate_name", ok.TrimEnd('}') + "}, \"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "twice");
        yield return Case("metadata_not_strings", """{"__metadata__":{"n":1}}""", 0, "__metadata__");
    }

    [TestCaseSource(nameof(BadFiles))]
    public void InvalidFileIsRejectedWithItsPath(string header, int dataBytes, ulong? headerLength, string expected)
    {
        string path = Path.Combine(_dir, "bad.safetensors");
        WriteRaw(path, header, new byte[dataBytes], headerLength);
        var e = Assert.Throws<QuantNativeException>(() => SafetensorsFile.Open(path)!.Dispose());
        Assert.That(e!.Message, Does.Contain(path).And.Contain(expected));
    }

    [TestCase(0)]
    [TestCase(5)]
    public void FileTooShortForTheLengthIsRejected(int size)
    {
        string path = Path.Combine(_dir, "short.safetensors");
        File.WriteAllBytes(path, new byte[size]);
        var e = Assert.Throws<QuantNativeException>(() => SafetensorsFile.Open(path));
        Assert.That(e!.Message, Does.Contain(path));
    }

    [Test]
    public void MissingFileIsReported()
    {
        string path = Path.Combine(_dir, "none.safetensors");
        var e = Assert.Throws<QuantNativeException>(() => SafetensorsFile.Open(path));
        Assert.That(e!.Message, Does.Contain(path).And.Contain("not found"));
    }
}
