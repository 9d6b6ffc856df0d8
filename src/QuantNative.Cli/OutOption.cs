namespace QuantNative.Cli;

/// <summary>--out of the verbs that write: checked before any work, since an empty or unusable path would otherwise
/// surface as a framework exception (Path.GetFullPath("") throws ArgumentException) after the model was loaded.</summary>
public static class OutOption
{
    public static string Check(string value, string option = "--out")
    {
        if (string.IsNullOrWhiteSpace(value))
            throw new QuantNativeException($"{option} '{value}': expected a path to write to, not an empty one");
        if (value.IndexOf('\0') >= 0)
            throw new QuantNativeException($"{option}: the path holds a NUL character");
        return value;
    }
}
