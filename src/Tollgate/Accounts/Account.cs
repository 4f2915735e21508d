namespace Tollgate.Accounts;

/// <summary>A person or team that owns keys and credits.</summary>
internal sealed record Account
{
    public required string Id { get; init; }
    public required string Email { get; init; }
    public required string DisplayName { get; init; }
    public required AccountRole Role { get; init; }
    public required DateTimeOffset CreatedAt { get; init; }

    /// <summary>A disabled account cannot sign in, and none of its keys work.</summary>
    public bool Disabled { get; init; }

    /// <summary>The IANA time zone that sets the day boundaries of the account's charts (<c>UTC</c> by default).</summary>
    public string TimeZone { get; init; } = "UTC";

    /// <summary>Changes whenever every session must end (a new password, "sign out everywhere", disabling).</summary>
    public string SecurityStamp { get; init; } = "";

    public bool IsAdmin => Role is AccountRole.Owner or AccountRole.Admin;
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
