namespace Tollgate.ApiKeys;

/// <summary>
/// A key's model allow-list: exact ids (<c>openai/gpt-4o</c>), provider patterns
/// (<c>anthropic/*</c>) or <c>*</c>. Null means every model.
/// </summary>
internal static class ModelAllowList
{
    public const int MaxEntries = 100;
    public const int MaxEntryLength = 200;

    public static bool IsAllowed(IReadOnlyList<string>? patterns, string modelId)
    {
        if (patterns is null)
        {
            return true;
        }

        foreach (var pattern in patterns)
        {
            if (Matches(pattern, modelId))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>True when every model <paramref name="requested"/> allows is allowed by <paramref name="held"/>.</summary>
    public static bool Covers(IReadOnlyList<string>? held, IReadOnlyList<string>? requested)
    {
        // "*" anywhere in a list allows every model, exactly like no list.
        if (held is null || held.Contains("*"))
        {
            return true;
        }

        if (requested is null || requested.Contains("*"))
        {
            return false;
        }

        foreach (var pattern in requested)
        {
            // A pattern is covered only by a pattern at least as wide (anthropic/* covers anthropic/claude/*);
            // an exact id by any entry that matches it.
            var covered = pattern.EndsWith("/*", StringComparison.Ordinal)
                ? held.Any(h => h.EndsWith("/*", StringComparison.Ordinal) &&
                    pattern.StartsWith(h.AsSpan(0, h.Length - 1), StringComparison.OrdinalIgnoreCase))
                : IsAllowed(held, pattern);
            if (!covered)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Null when the entry is acceptable, else what is wrong with it.</summary>
    public static string? Validate(string entry)
    {
        if (entry.Length is 0 or > MaxEntryLength)
        {
            return $"must be 1 to {MaxEntryLength} characters";
        }

        if (entry == "*")
        {
            return null;
        }

        var slash = entry.IndexOf('/', StringComparison.Ordinal);
        if (slash <= 0 || slash == entry.Length - 1)
        {
            return "must be a model id 'provider/model', a pattern 'provider/*' or '*'";
        }

        foreach (var c in entry)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or ':' or '/' or '@' or '*'))
            {
                return $"contains the character '{c}', which no model id has";
            }
        }

        var star = entry.IndexOf('*', StringComparison.Ordinal);
        return star >= 0 && star != entry.Length - 1 || star >= 0 && !entry.EndsWith("/*", StringComparison.Ordinal)
            ? "may use '*' only as the whole model part ('provider/*')"
            : null;
    }

    private static bool Matches(string pattern, string modelId)
    {
        if (pattern == "*")
        {
            return true;
        }

        return pattern.EndsWith("/*", StringComparison.Ordinal)
            ? modelId.StartsWith(pattern.AsSpan(0, pattern.Length - 1), StringComparison.OrdinalIgnoreCase)
            : string.Equals(pattern, modelId, StringComparison.OrdinalIgnoreCase);
    }
}
