//! The order crate's ids.

jinguo_common::id_type!(
    /// An order (`orders`).
    OrderId
);
jinguo_common::id_type!(
    /// One producer's part of an order (`order_parts`).
    PartId
);
jinguo_common::id_type!(
    /// An entry of a buyer's address book (`addresses`).
    AddressId
);
