namespace Tollgate.Accounts;

/// <summary>A person or team that owns keys and credits.</summary>
internal sealed record Account
{
    public required string Id { get; init; }
    public required string Email { get; init; }
    public required string DisplayName { get; init; }
    public required AccountRole Role { get; init; }
    public required DateTimeOffset CreatedAt { get; init; }
}

internal enum AccountRole
{
    Member,
    Admin,
    Owner,
}

internal static class AccountRoles
{
    public static string ToName(AccountRole role) => role switch
    {
        AccountRole.Owner => "owner",
        AccountRole.Admin => "admin",
        _ => "member",
    };

    public static bool TryParse(string? value, out AccountRole role)
    {
        switch (value?.Trim().ToLowerInvariant())
        {
            case "owner": role = AccountRole.Owner; return true;
            case "admin": role = AccountRole.Admin; return true;
            case "member": role = AccountRole.Member; return true;
            default: role = AccountRole.Member; return false;
        }
    }
}
