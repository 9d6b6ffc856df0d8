using System.Runtime.ExceptionServices;
using QuantNative.Model;
using QuantNative.Model.Quantized;

namespace QuantNative.Formats.Gguf;

/// <summary>
/// `qn quantize --format gguf` written as the run goes: the GGUF writer runs on its own thread, a finished block is
/// handed to it (<see cref="IQuantizedBlockSink"/>) and dropped once its tensors are written, so the run never holds the
/// quantized model whole — nor a learned method's W' copies, which the K-quant fits read (fp32, the size of the model
/// in fp32: 27 GB at 7B). At most <see cref="MaxPending"/> finished blocks wait for the writer; a quantization that gets
/// further ahead waits for it (the K-quant fits of a block can take longer than the block's quantization). Every
/// linear's GGUF type is chosen when the first block arrives, from its codes (every block has the same quantizer, so
/// the same types). The file is the one <see cref="GgufExporter.Write"/> writes from the whole model, byte for byte.
/// </summary>
public sealed class GgufBlockStream : IQuantizedBlockSink, IDisposable
{
    /// <summary>Finished blocks that may wait for the writer before the quantization waits.</summary>
    public const int MaxPending = 2;

    private readonly object _gate = new();
    private readonly Dictionary<int, QuantizedBlock> _blocks = [];
    private readonly string _method;
    private readonly Task<IReadOnlyList<GgufTensorReport>> _writer;
    private readonly TaskCompletionSource<QuantizedModel> _model = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private QuantizedBlock? _first;
    private int _wanted; // the block the writer needs next: block 0 first, then in order
    private bool _cancelled, _writerDone;
    private ExceptionDispatchInfo? _failure;
    private Action<long, long, string>? _progress;
    private long _done, _total;

    /// <summary>The most blocks held at once (tests hold the run to <see cref="MaxPending"/> + the one being written).</summary>
    public int MostHeld { get; private set; }

    /// <summary>Starts writing <paramref name="path"/> for a model of <paramref name="source"/>'s config quantized by
    /// <paramref name="method"/>, its unquantized tensors stored in <paramref name="sourceDTypes"/> (by Hugging Face
    /// name; F32 when absent); the token embedding is read now (it is the file's first tensor).</summary>
    public GgufBlockStream(IModelSource source, IReadOnlyDictionary<string, string> sourceDTypes, string method, string path,
        GgmlType? type, IReadOnlyList<KeyValuePair<string, GgufValue>> tokenizerMetadata, string name, bool overwrite)
    {
        _method = method;
        var c = source.Config;
        var embedding = source.LoadTokenEmbedding();
        var dtypes = sourceDTypes;
        var cached = new Dictionary<int, LlamaBlockWeights>();
        var src = new GgufExportSource
        {
            Config = c, Method = method,
            Embedding = () =>
            {
                var e = embedding ?? throw new InvalidOperationException("the token embedding was asked for twice");
                embedding = null; // written once: not held for the rest of the run
                return e;
            },
            FinalNorm = () => Model().FinalNorm,
            Output = () => Model().Output,
            Block = layer =>
            {
                if (!cached.TryGetValue(layer, out var weights))
                {
                    cached.Clear();
                    cached[layer] = weights = Take(layer).Dequantize();
                }
                return weights;
            },
            Codes = (layer, part) => Take(layer).Linears[part],
            Learned = (layer, part) => Take(layer).Learned?.GetValueOrDefault(part),
            Importance = (layer, part) => Take(layer).Importance?.GetValueOrDefault(part),
            ChoiceOf = (_, part) =>
            {
                var first = First();
                return (first.Linears[part], first.Learned?.ContainsKey(part) == true, first.Importance?.ContainsKey(part) == true);
            },
            MatrixDType = FloatDTypeExtensions.TryParseSafetensors(
                dtypes.GetValueOrDefault(HuggingFace.HuggingFaceNames.Embedding, "F32"), out var d) ? d : FloatDType.F32,
        };
        _writer = Task.Factory.StartNew(() =>
        {
            try
            {
                return GgufExporter.Write(src, path, type, tokenizerMetadata, name, overwrite, progress: Progress);
            }
            catch (Exception e)
            {
                lock (_gate) _failure = ExceptionDispatchInfo.Capture(e);
                throw;
            }
            finally
            {
                lock (_gate)
                {
                    _writerDone = true;
                    _blocks.Clear();
                    _first = null;
                    Monitor.PulseAll(_gate);
                }
            }
        }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
    }

    /// <summary>Hands a finished block to the writer; waits while <see cref="MaxPending"/> blocks already wait for it.
    /// Throws what the writer failed with, if it did.</summary>
    public void Write(int layer, QuantizedBlock block)
    {
        lock (_gate)
        {
            ThrowIfWriterFailed();
            _blocks[layer] = block;
            _first ??= block;
            MostHeld = Math.Max(MostHeld, _blocks.Count);
            Monitor.PulseAll(_gate);
            // Wait only while the writer has a block it can work on (never for one it is still waiting for).
            while (_blocks.Count > MaxPending && _blocks.ContainsKey(_wanted) && !_writerDone)
                Monitor.Wait(_gate);
            ThrowIfWriterFailed();
        }
    }

    /// <summary>Gives the writer the rest of the model (final norm, output) and waits for the file, showing the writer's
    /// progress through <paramref name="progress"/>; returns the per-tensor report.</summary>
    public IReadOnlyList<GgufTensorReport> Finish(QuantizedModel model, Action<long, long, string>? progress = null)
    {
        if (model.Method != _method)
            throw new InvalidOperationException($"the stream was started for method {_method}, the model is {model.Method}");
        lock (_gate)
        {
            _progress = progress;
            if (_total > 0) progress?.Invoke(_done, _total, "tensors");
        }
        _model.TrySetResult(model);
        return _writer.GetAwaiter().GetResult(); // the writer's own exception, not wrapped
    }

    /// <summary>Stops a writer the run did not finish (the quantization failed): it deletes its temporary file.</summary>
    public void Dispose()
    {
        if (_writer.IsCompleted) return;
        lock (_gate)
        {
            _cancelled = true;
            Monitor.PulseAll(_gate);
        }
        _model.TrySetCanceled();
        try
        {
            _writer.Wait();
        }
        catch (AggregateException)
        {
            // the run's own error is what the user sees
        }
    }

    private void Progress(long done, long total, string tensor)
    {
        lock (_gate)
        {
            (_done, _total) = (done, total);
            _progress?.Invoke(done, total, "tensors");
        }
    }

    private QuantizedModel Model()
    {
        try
        {
            return _model.Task.GetAwaiter().GetResult();
        }
        catch (TaskCanceledException)
        {
            throw new OperationCanceledException("the quantization did not finish");
        }
    }

    /// <summary>The writer's first use of a block: waits for it, and drops every earlier block (their tensors are
    /// written: the file's tensors go block by block, in order).</summary>
    private QuantizedBlock Take(int layer)
    {
        lock (_gate)
        {
            _wanted = layer;
            _first = null; // the types are chosen: the writer is at the tensors now
            foreach (int earlier in _blocks.Keys.Where(k => k < layer).ToList()) _blocks.Remove(earlier);
            Monitor.PulseAll(_gate);
            QuantizedBlock? block;
            while (!_blocks.TryGetValue(layer, out block))
            {
                if (_cancelled) throw new OperationCanceledException("the quantization did not finish");
                Monitor.Wait(_gate);
            }
            return block;
        }
    }

    private QuantizedBlock First()
    {
        lock (_gate)
        {
            while (_first == null)
            {
                if (_cancelled) throw new OperationCanceledException("the quantization did not finish");
                Monitor.Wait(_gate);
            }
            return _first;
        }
    }

    /// <summary>Rethrows the writer's failure (called under the lock).</summary>
    private void ThrowIfWriterFailed() => _failure?.Throw();
}
