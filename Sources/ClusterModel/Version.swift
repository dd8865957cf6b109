/// Vigil's version, shown by `vigild --version`, `vigil --version` and stored in member records.
public enum VigilVersion {
    public static let current = "0.1.0-dev"
}
