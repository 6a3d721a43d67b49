/// Quoting for a POSIX shell: the one place a word is made safe for `sh -c`.
public enum Shell {
    /// `word` as one word for sh: as it is when it holds only characters sh leaves alone,
    /// otherwise in single quotes (an embedded quote becomes '\''). An empty word is ''.
    public static func quote(_ word: String) -> String {
        if !word.isEmpty, word.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_./:=,@+%".contains($0)) }) {
            return word
        }
        return "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }

    /// The words as one command line for sh, each word kept whole.
    public static func commandLine(_ words: [String]) -> String {
        words.map(quote).joined(separator: " ")
    }
}
