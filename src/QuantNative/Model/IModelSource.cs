namespace QuantNative.Model;

/// <summary>
/// A checkpoint opened for reading. Tensors are read on demand, one block at a time, so a caller that streams
/// (quantization) never holds the whole model. Every array returned is a fresh fp32 copy in the internal layout
/// (rotate-half RoPE, [out, in] matrices); dtype conversion and layout conversion happen here.
/// Tokenizers are loaded separately (Tokenization.TokenizerLoader), from the checkpoint's directory or a given file.
/// </summary>
public interface IModelSource : IDisposable
{
    /// <summary>The file or directory the model came from (used in messages).</summary>
    string Path { get; }

    /// <summary>"llama2.c", "huggingface" or "gptq".</summary>
    string Format { get; }

    LlamaConfig Config { get; }

    /// <summary>The tensors as the checkpoint stores them, in file order.</summary>
    IReadOnlyList<TensorInfo> Tensors { get; }

    float[] LoadTokenEmbedding();            // [vocab, hidden]
    LlamaBlockWeights LoadBlock(int layer);
    float[] LoadFinalNorm();                 // [hidden]
    float[] LoadOutput();                    // [vocab, hidden]; the embedding when tied
}
