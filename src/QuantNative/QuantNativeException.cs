namespace QuantNative;

/// <summary>
/// An error the user can act on: a bad file, tensor, option or shape. The message names the thing and what was
/// expected. The command-line tool prints the message alone (never a stack trace) and exits non-zero.
/// </summary>
public class QuantNativeException : Exception
{
    public QuantNativeException(string message) : base(message) { }
    public QuantNativeException(string message, Exception inner) : base(message, inner) { }
}
