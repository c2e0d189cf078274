//! The fixed data every subgraph answers from: six users, nine products, eleven reviews.

use std::sync::LazyLock;

pub struct User {
    pub id: &'static str,
    pub name: &'static str,
    pub username: &'static str,
    pub birthday: i32,
}

pub struct Product {
    pub upc: &'static str,
    pub name: &'static str,
    pub price: i32,
    pub weight: i32,
    pub in_stock: bool,
}

pub struct Review {
    pub id: String,
    pub body: String,
    pub product: &'static str,
    pub author: &'static str,
}

pub static USERS: [User; 6] = [
    user("1", "Ada Lovelace", "ada"),
    user("2", "Alan Turing", "alan"),
    user("3", "Grace Hopper", "grace"),
    user("4", "Edsger Dijkstra", "edsger"),
    user("5", "Barbara Liskov", "barbara"),
    user("6", "Donald Knuth", "donald"),
];

const fn user(id: &'static str, name: &'static str, username: &'static str) -> User {
    User {
        id,
        name,
        username,
        birthday: 1_234_567_890,
    }
}

pub static PRODUCTS: [Product; 9] = [
    product("1", "Table", 899, 100, true),
    product("2", "Couch", 1299, 1000, false),
    product("3", "Glass", 15, 20, false),
    product("4", "Chair", 499, 100, false),
    product("5", "TV", 1299, 1000, true),
    product("6", "Lamp", 6999, 300, true),
    product("7", "Grill", 3999, 2000, true),
    product("8", "Fridge", 100_000, 6000, false),
    product("9", "Sofa", 9999, 800, true),
];

const fn product(
    upc: &'static str,
    name: &'static str,
    price: i32,
    weight: i32,
    in_stock: bool,
) -> Product {
    Product {
        upc,
        name,
        price,
        weight,
        in_stock,
    }
}

/// Eleven reviews of the first four products (four, four, one and two), by every user, with
/// bodies from about 150 to 900 characters as in the public benchmark.
pub static REVIEWS: LazyLock<Vec<Review>> = LazyLock::new(|| {
    let products = ["1", "1", "1", "1", "2", "2", "2", "2", "3", "4", "4"];
    let sentence =
        "The build quality is what you would expect at this price, and it arrived on time. ";
    products
        .iter()
        .enumerate()
        .map(|(i, &product)| Review {
            id: (i + 1).to_string(),
            body: sentence.repeat(2 + (i * 7) % 10),
            product,
            author: USERS[i % USERS.len()].id,
        })
        .collect()
});

pub fn user_by_id(id: &str) -> Option<&'static User> {
    USERS.iter().find(|user| user.id == id)
}

pub fn product_by_upc(upc: &str) -> Option<&'static Product> {
    PRODUCTS.iter().find(|product| product.upc == upc)
}
