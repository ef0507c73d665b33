//! A small map over a `Vec`, for the broker's few entries (ports, pending host requests,
//! remembered choices). Each `BTreeMap<K, V>` instantiation costs several KB of WASM (node
//! splitting, merging, stealing); a linear scan over a handful of entries costs almost nothing.
//! Iteration is in insertion order (ids only grow, so that is id order).

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Table<K, V>(Vec<(K, V)>);

impl<K, V> Default for Table<K, V> {
    fn default() -> Self {
        Table(Vec::new())
    }
}

impl<K: PartialEq, V> Table<K, V> {
    /// Sets `k` to `v`, keeping the position of an existing entry.
    pub(crate) fn insert(&mut self, k: K, v: V) {
        match self.0.iter_mut().find(|(x, _)| *x == k) {
            Some(e) => e.1 = v,
            None => self.0.push((k, v)),
        }
    }

    pub(crate) fn remove<Q: PartialEq<K> + ?Sized>(&mut self, k: &Q) -> Option<V> {
        let i = self.0.iter().position(|(x, _)| k == x)?;
        Some(self.0.remove(i).1)
    }

    pub(crate) fn get<Q: PartialEq<K> + ?Sized>(&self, k: &Q) -> Option<&V> {
        self.0.iter().find(|(x, _)| k == x).map(|(_, v)| v)
    }

    pub(crate) fn get_mut<Q: PartialEq<K> + ?Sized>(&mut self, k: &Q) -> Option<&mut V> {
        self.0.iter_mut().find(|(x, _)| k == x).map(|(_, v)| v)
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.0.iter().map(|(k, v)| (k, v))
    }

    pub(crate) fn values(&self) -> impl Iterator<Item = &V> {
        self.0.iter().map(|(_, v)| v)
    }
}

impl<K, V> IntoIterator for Table<K, V> {
    type Item = (K, V);
    type IntoIter = std::vec::IntoIter<(K, V)>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn behaves_as_a_map_in_insertion_order() {
        let mut t: Table<String, u32> = Table::default();
        t.insert("b".into(), 1);
        t.insert("a".into(), 2);
        t.insert("b".into(), 3);
        assert_eq!(t.iter().map(|(k, v)| (k.as_str(), *v)).collect::<Vec<_>>(), [("b", 3), ("a", 2)]);
        assert_eq!(t.get("a"), Some(&2));
        *t.get_mut("a").unwrap() += 1;
        assert_eq!(t.remove("a"), Some(3));
        assert_eq!(t.remove("a"), None);
        assert_eq!(t.values().copied().collect::<Vec<_>>(), [3]);
    }
}
