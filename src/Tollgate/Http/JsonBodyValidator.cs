using System.Buffers;
using System.Text;
using System.Text.Json;
using System.Text.Unicode;

namespace Tollgate.Http;

/// <summary>
/// The rules every JSON request body meets before any endpoint looks at it, checked in one
/// <see cref="Utf8JsonReader"/> pass over the bytes (linear in their size, cancellable): valid JSON,
/// nested at most <c>maxDepth</c> levels, every string and property name valid Unicode (UTF-8 bytes,
/// no lone surrogate escapes such as <c>\ud800</c>), and no property name twice in one object. A body
/// that breaks one is a 400 naming the field (<c>messages[0].content</c>), never a 500 later on.
/// </summary>
internal static class JsonBodyValidator
{
    private const int CancellationCheckInterval = 4096;
    private const int MaxNameInMessage = 100;

    /// <exception cref="ApiException">400 naming the field that breaks a rule.</exception>
    public static void Validate(ReadOnlySpan<byte> utf8, int maxDepth, CancellationToken cancellationToken)
    {
        // The reader would stop one level deeper; stopping here first lets the error name the field.
        var reader = new Utf8JsonReader(utf8, new JsonReaderOptions { MaxDepth = maxDepth + 1 });
        var state = new State();
        try
        {
            var tokens = 0;
            while (Read(ref reader))
            {
                if (++tokens % CancellationCheckInterval == 0)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                }

                switch (reader.TokenType)
                {
                    case JsonTokenType.PropertyName:
                        state.Property(ref reader);
                        break;
                    case JsonTokenType.StartObject or JsonTokenType.StartArray:
                        state.Value();
                        if (reader.CurrentDepth >= maxDepth)
                        {
                            throw ApiException.BadRequest($"The request body is nested more than {maxDepth} levels deep at {state.Path()}", state.Path());
                        }

                        state.Open(reader.TokenType == JsonTokenType.StartObject);
                        break;
                    case JsonTokenType.EndObject or JsonTokenType.EndArray:
                        state.Close();
                        break;
                    case JsonTokenType.String:
                        state.Value();
                        if (!IsValidText(ref reader, state))
                        {
                            var path = state.Path();
                            throw ApiException.BadRequest(
                                $"{path} is not valid text: it holds bytes that are not UTF-8 or half of a surrogate pair (such as \\ud800)", path);
                        }

                        break;
                    default:
                        state.Value();
                        break;
                }
            }
        }
        finally
        {
            state.Dispose();
        }
    }

    private static bool Read(ref Utf8JsonReader reader)
    {
        try
        {
            return reader.Read();
        }
        catch (JsonException exception)
        {
            throw ApiException.BadRequest(ErrorHandling.MalformedJsonMessage(exception));
        }
    }

    /// <summary>True when the current string token decodes to valid Unicode; its unescaped UTF-8 is left in the scratch buffer when escaped.</summary>
    private static bool IsValidText(ref Utf8JsonReader reader, State state)
    {
        if (!reader.ValueIsEscaped)
        {
            return Utf8.IsValid(reader.ValueSpan);
        }

        try
        {
            // Unescaped text is never longer than its escaped form; CopyString refuses invalid UTF-8 and lone surrogates.
            var scratch = state.Scratch(reader.ValueSpan.Length);
            var length = reader.CopyString(scratch);
            return Utf8.IsValid(scratch[..length]);
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }

    /// <summary>A property name or field path as far as it can be shown: invalid bytes become U+FFFD, long names are cut.</summary>
    private static string Shown(ReadOnlySpan<byte> utf8)
    {
        var text = Encoding.UTF8.GetString(utf8.Length <= MaxNameInMessage * 4 ? utf8 : utf8[..(MaxNameInMessage * 4)]);
        return text.Length <= MaxNameInMessage ? text : text[..MaxNameInMessage] + "...";
    }

    /// <summary>
    /// Where the reader is (for error paths) and the property names of every object still open (for
    /// duplicates): names are kept as unescaped UTF-8 in one pooled buffer, hashed by depth and bytes, and
    /// dropped when their object closes, so the work and memory stay linear in the body's size.
    /// </summary>
    private sealed class State : IDisposable
    {
        private readonly List<Frame> _frames = new(16);
        private readonly HashSet<Name> _names;
        private readonly List<Name> _open = [];
        private byte[] _nameBytes = ArrayPool<byte>.Shared.Rent(1024);
        private int _nameLength;
        private byte[] _scratch = ArrayPool<byte>.Shared.Rent(1024);

        public State() => _names = new HashSet<Name>(new NameComparer(this));

        public void Open(bool isObject) => _frames.Add(new Frame(isObject, -1, _open.Count, _nameLength, -1));

        public void Close()
        {
            var frame = _frames[^1];
            _frames.RemoveAt(_frames.Count - 1);
            if (frame.IsObject)
            {
                for (var i = frame.FirstName; i < _open.Count; i++)
                {
                    _names.Remove(_open[i]);
                }

                _open.RemoveRange(frame.FirstName, _open.Count - frame.FirstName);
                _nameLength = frame.NameStart;
            }
        }

        /// <summary>A value starts: in an array, it is the next element.</summary>
        public void Value()
        {
            if (_frames.Count > 0 && !_frames[^1].IsObject)
            {
                _frames[^1] = _frames[^1] with { Index = _frames[^1].Index + 1 };
            }
        }

        public void Property(ref Utf8JsonReader reader)
        {
            if (!IsValidText(ref reader, this))
            {
                var raw = Shown(reader.ValueSpan);
                var at = _frames.Count > 1 ? Path(_frames.Count - 1) : null;
                throw ApiException.BadRequest(
                    $"A property name{(at is null ? "" : " in " + at)} is not valid text: it holds bytes that are not UTF-8 or half of a surrogate pair (such as \\ud800)",
                    at is null ? raw : at + "." + raw);
            }

            var name = reader.ValueIsEscaped ? _scratch.AsSpan(0, reader.CopyString(_scratch)) : reader.ValueSpan;
            var start = _nameLength;
            Append(name);
            var key = new Name(_frames.Count, start, name.Length, HashOf(_frames.Count, name));
            _frames[^1] = _frames[^1] with { NameAt = start, NameLength = name.Length };
            if (!_names.Add(key))
            {
                var path = Path();
                throw ApiException.BadRequest($"{path} is given twice; each field may appear once", path);
            }

            _open.Add(key);
        }

        public Span<byte> Scratch(int length)
        {
            if (_scratch.Length < length)
            {
                ArrayPool<byte>.Shared.Return(_scratch);
                _scratch = ArrayPool<byte>.Shared.Rent(length);
            }

            return _scratch;
        }

        /// <summary>The path of the current field: <c>messages[0].content[1].text</c>.</summary>
        public string Path() => Path(_frames.Count);

        private string Path(int frames)
        {
            var path = new StringBuilder();
            for (var i = 0; i < frames; i++)
            {
                var frame = _frames[i];
                if (frame.IsObject)
                {
                    if (frame.NameAt >= 0)
                    {
                        path.Append(path.Length == 0 ? "" : ".").Append(Shown(_nameBytes.AsSpan(frame.NameAt, frame.NameLength)));
                    }
                }
                else if (frame.Index >= 0)
                {
                    path.Append('[').Append(frame.Index).Append(']');
                }
            }

            return path.Length == 0 ? "body" : path.ToString();
        }

        private void Append(ReadOnlySpan<byte> name)
        {
            if (_nameBytes.Length - _nameLength < name.Length)
            {
                var larger = ArrayPool<byte>.Shared.Rent(Math.Max(_nameBytes.Length * 2, _nameLength + name.Length));
                _nameBytes.AsSpan(0, _nameLength).CopyTo(larger);
                ArrayPool<byte>.Shared.Return(_nameBytes);
                _nameBytes = larger;
            }

            name.CopyTo(_nameBytes.AsSpan(_nameLength));
            _nameLength += name.Length;
        }

        private static int HashOf(int depth, ReadOnlySpan<byte> name)
        {
            var hash = new HashCode();
            hash.Add(depth);
            hash.AddBytes(name);
            return hash.ToHashCode();
        }

        public void Dispose()
        {
            ArrayPool<byte>.Shared.Return(_nameBytes);
            ArrayPool<byte>.Shared.Return(_scratch);
        }

        /// <summary>An open object or array; for an object, its current property name and where its names start.</summary>
        private readonly record struct Frame(bool IsObject, int Index, int FirstName, int NameStart, int NameAt, int NameLength = 0);

        /// <summary>A property name of an open object: its depth and its bytes in the name buffer.</summary>
        private readonly record struct Name(int Depth, int Start, int Length, int Hash);

        private sealed class NameComparer(State state) : IEqualityComparer<Name>
        {
            public bool Equals(Name x, Name y) =>
                x.Hash == y.Hash && x.Depth == y.Depth && x.Length == y.Length &&
                state._nameBytes.AsSpan(x.Start, x.Length).SequenceEqual(state._nameBytes.AsSpan(y.Start, y.Length));

            public int GetHashCode(Name name) => name.Hash;
        }
    }
}
