//! The four subgraph schemas (Apollo Federation v2), each its own Query type and entities.

pub mod accounts {
    use async_graphql::{ID, Object, SimpleObject};

    use crate::data;

    #[derive(SimpleObject)]
    pub struct User {
        id: ID,
        name: &'static str,
        username: &'static str,
        birthday: i32,
    }

    impl From<&'static data::User> for User {
        fn from(user: &'static data::User) -> Self {
            Self {
                id: ID(user.id.into()),
                name: user.name,
                username: user.username,
                birthday: user.birthday,
            }
        }
    }

    pub struct Query;

    #[Object]
    impl Query {
        async fn me(&self) -> Option<User> {
            data::user_by_id("1").map(Into::into)
        }

        async fn user(&self, id: ID) -> Option<User> {
            data::user_by_id(&id).map(Into::into)
        }

        async fn users(&self) -> Vec<User> {
            data::USERS.iter().map(Into::into).collect()
        }

        #[graphql(entity)]
        async fn find_user_by_id(&self, id: ID) -> Option<User> {
            data::user_by_id(&id).map(Into::into)
        }
    }
}

pub mod products {
    use async_graphql::{Object, SimpleObject};

    use crate::data;

    #[derive(SimpleObject)]
    pub struct Product {
        upc: &'static str,
        name: &'static str,
        price: i32,
        weight: i32,
    }

    impl From<&'static data::Product> for Product {
        fn from(product: &'static data::Product) -> Self {
            Self {
                upc: product.upc,
                name: product.name,
                price: product.price,
                weight: product.weight,
            }
        }
    }

    pub struct Query;

    #[Object]
    impl Query {
        async fn top_products(&self, #[graphql(default = 5)] first: i32) -> Vec<Product> {
            let first = usize::try_from(first).unwrap_or(0);
            data::PRODUCTS.iter().take(first).map(Into::into).collect()
        }

        #[graphql(entity)]
        async fn find_product_by_upc(&self, upc: String) -> Option<Product> {
            data::product_by_upc(&upc).map(Into::into)
        }
    }
}

pub mod inventory {
    use async_graphql::Object;

    use crate::data;

    /// Stock and shipping; the shipping estimate needs the price and weight that products owns,
    /// which the router fetches first and sends in the representation (`@requires`).
    pub struct Product {
        upc: String,
        price: Option<i32>,
        weight: Option<i32>,
        in_stock: bool,
    }

    #[Object]
    impl Product {
        async fn upc(&self) -> &str {
            &self.upc
        }

        /// Owned by products; known here only from a representation.
        #[graphql(external)]
        async fn price(&self) -> i32 {
            self.price.unwrap_or_default()
        }

        #[graphql(external)]
        async fn weight(&self) -> i32 {
            self.weight.unwrap_or_default()
        }

        async fn in_stock(&self) -> bool {
            self.in_stock
        }

        #[graphql(requires = "price weight")]
        async fn shipping_estimate(&self) -> Option<i32> {
            let (price, weight) = (self.price?, self.weight?);
            Some(if price > 1000 { 0 } else { weight / 2 })
        }
    }

    pub struct Query;

    #[Object]
    impl Query {
        #[graphql(entity)]
        async fn find_product_by_upc(
            &self,
            #[graphql(key)] upc: String,
            price: Option<i32>,
            weight: Option<i32>,
        ) -> Option<Product> {
            let in_stock = data::product_by_upc(&upc)?.in_stock;
            Some(Product {
                upc,
                price,
                weight,
                in_stock,
            })
        }
    }
}

pub mod reviews {
    use async_graphql::{ID, Object};

    use crate::data;

    pub struct Review(&'static data::Review);

    #[Object]
    impl Review {
        async fn id(&self) -> ID {
            ID(self.0.id.clone())
        }

        async fn body(&self) -> &str {
            &self.0.body
        }

        async fn product(&self) -> Product {
            Product(self.0.product.into())
        }

        /// The author with their username, which this subgraph can answer without accounts.
        #[graphql(provides = "username")]
        async fn author(&self) -> Option<User> {
            data::user_by_id(self.0.author).map(|user| User(user.id.into()))
        }
    }

    pub struct User(String);

    #[Object]
    impl User {
        async fn id(&self) -> ID {
            ID(self.0.clone())
        }

        #[graphql(external)]
        async fn username(&self) -> &'static str {
            data::user_by_id(&self.0).map_or("", |user| user.username)
        }

        async fn reviews(&self) -> Vec<Review> {
            reviews(|review| review.author == self.0)
        }
    }

    pub struct Product(String);

    #[Object]
    impl Product {
        async fn upc(&self) -> &str {
            &self.0
        }

        async fn reviews(&self) -> Vec<Review> {
            reviews(|review| review.product == self.0)
        }
    }

    fn reviews(keep: impl Fn(&data::Review) -> bool) -> Vec<Review> {
        data::REVIEWS
            .iter()
            .filter(|review| keep(review))
            .map(Review)
            .collect()
    }

    pub struct Query;

    #[Object]
    impl Query {
        #[graphql(entity)]
        async fn find_user_by_id(&self, id: ID) -> User {
            User(id.0)
        }

        #[graphql(entity)]
        async fn find_product_by_upc(&self, upc: String) -> Product {
            Product(upc)
        }

        #[graphql(entity)]
        async fn find_review_by_id(&self, id: ID) -> Option<Review> {
            data::REVIEWS
                .iter()
                .find(|review| review.id == id.0)
                .map(Review)
        }
    }
}
