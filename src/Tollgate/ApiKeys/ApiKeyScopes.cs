namespace Tollgate.ApiKeys;

/// <summary>The scopes of SPEC section 5. A key holds a set of them.</summary>
[Flags]
internal enum ApiKeyScopes
{
    None = 0,
    Inference = 1,
    KeysRead = 2,
    KeysWrite = 4,
    UsageRead = 8,

    /// <summary>Granting credits through the API. Never a default, never implied by another scope,
    /// and held only by keys of owner or admin accounts.</summary>
    Admin = 16,

    /// <summary>What a key gets when no scopes are chosen: every scope but <see cref="Admin"/>.</summary>
    Default = Inference | KeysRead | KeysWrite | UsageRead,
    All = Default | Admin,
}

internal static class ApiKeyScopeNames
{
    public const string Inference = "inference";
    public const string KeysRead = "keys:read";
    public const string KeysWrite = "keys:write";
    public const string UsageRead = "usage:read";
    public const string Admin = "admin";

    private static readonly (ApiKeyScopes Scope, string Name)[] Names =
    [
        (ApiKeyScopes.Inference, Inference),
        (ApiKeyScopes.KeysRead, KeysRead),
        (ApiKeyScopes.KeysWrite, KeysWrite),
        (ApiKeyScopes.UsageRead, UsageRead),
        (ApiKeyScopes.Admin, Admin),
    ];

    public static string AllNames => string.Join(", ", Names.Select(n => n.Name));

    /// <summary>The scopes a key gets by default, by name.</summary>
    public static string DefaultNames => string.Join(", ", ToNames(ApiKeyScopes.Default));

    /// <summary>Every single scope, for one authorization policy each.</summary>
    public static IEnumerable<ApiKeyScopes> Each => Names.Select(n => n.Scope);

    public static string Name(ApiKeyScopes single) => Names.First(n => n.Scope == single).Name;

    public static bool TryParse(string name, out ApiKeyScopes scope)
    {
        foreach (var (s, n) in Names)
        {
            if (string.Equals(n, name, StringComparison.Ordinal))
            {
                scope = s;
                return true;
            }
        }

        scope = ApiKeyScopes.None;
        return false;
    }

    public static IReadOnlyList<string> ToNames(ApiKeyScopes scopes) =>
        Names.Where(n => scopes.HasFlag(n.Scope)).Select(n => n.Name).ToArray();

    /// <summary>The first scope of <paramref name="wanted"/> that <paramref name="held"/> lacks.</summary>
    public static string? FirstMissing(ApiKeyScopes held, ApiKeyScopes wanted) =>
        Names.FirstOrDefault(n => wanted.HasFlag(n.Scope) && !held.HasFlag(n.Scope)).Name;

    /// <summary>Storage form: space-separated names.</summary>
    public static string ToStorage(ApiKeyScopes scopes) => string.Join(' ', ToNames(scopes));

    public static ApiKeyScopes FromStorage(string value)
    {
        var scopes = ApiKeyScopes.None;
        foreach (var name in value.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            if (TryParse(name, out var scope))
            {
                scopes |= scope;
            }
        }

        return scopes;
    }
}
