using NUnit.Framework;
using QuantNative.Formats;
using QuantNative.Formats.HuggingFace;

namespace QuantNative.Tests.Formats;

public class ModelLoaderTests
{
    private string _dir = "";

    [SetUp] public void SetUp() => _dir = TestPaths.NewTempDir();
    [TearDown] public void TearDown() => Directory.Delete(_dir, recursive: true);

    [Test]
    public void AFileOpensAsLlama2c()
    {
        using var model = ModelLoader.Open(TestPaths.Stories260K);
        Assert.That(model.Format, Is.EqualTo("llama2.c"));
        Assert.That(model.Config.HiddenSize, Is.EqualTo(64));
    }

    [Test]
    public void ADirectoryWithConfigOpensAsHuggingFace()
    {
        string dir = Path.Combine(_dir, "hf");
        using (var llama2c = ModelLoader.Open(TestPaths.Stories260K))
            HuggingFaceWriter.Write(llama2c, dir, FloatDType.BF16);
        using var model = ModelLoader.Open(dir);
        using var original = ModelLoader.Open(TestPaths.Stories260K);
        Assert.That(model.Format, Is.EqualTo("huggingface"));
        Assert.That(model.Config.Maths(), Is.EqualTo(original.Config.Maths()));
    }

    [Test]
    public void AMissingPathSaysWhatWasExpected()
    {
        string path = Path.Combine(_dir, "nothing-here");
        var e = Assert.Throws<QuantNativeException>(() => ModelLoader.Open(path));
        Assert.That(e!.Message, Does.Contain(path).And.Contain("llama2.c").And.Contain("config.json"));
    }

    [Test]
    public void ADirectoryWithoutConfigSaysWhatWasExpected()
    {
        File.WriteAllText(Path.Combine(_dir, "model.safetensors"), "");
        var e = Assert.Throws<QuantNativeException>(() => ModelLoader.Open(_dir));
        Assert.That(e!.Message, Does.Contain(_dir).And.Contain("config.json"));
    }

    [Test]
    public void AFileThatIsNotACheckpointIsRejected()
    {
        string path = Path.Combine(_dir, "notes.txt");
        File.WriteAllText(path, "this is not a llama2.c checkpoint at all, just text");
        var e = Assert.Throws<QuantNativeException>(() => ModelLoader.Open(path));
        Assert.That(e!.Message, Does.Contain(path).And.Contain("llama2.c"));
    }
}
