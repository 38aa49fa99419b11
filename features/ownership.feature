@destructive @two_users
Feature: Who may touch whose images
  A gallery belongs to one user. Nobody else sees, changes, reorders or deletes its images.

  Background:
    Given Bob has uploaded a PNG file "bobs-cat.png" with the title "Bob's cat"

  @smoke @critical
  Scenario: Alice's gallery never lists Bob's images
    Given Alice has uploaded a PNG file "alices-dog.png"

    When Alice lists her gallery

    Then Bob's image is not listed
    And Alice's image is listed

  @critical
  Scenario: Alice cannot update Bob's image
    When Alice updates Bob's image with the title "Stolen"

    Then the request is refused as another user's image
    And Bob's image is unchanged

  @critical
  Scenario: Alice cannot delete Bob's image
    When Alice deletes Bob's image

    Then the request is refused as another user's image
    And Bob's image is unchanged

  @whole_gallery
  Scenario: Alice cannot put Bob's image into her gallery order
    Given Alice has uploaded a PNG file "alices-dog.png"

    When Alice orders her gallery with her images and Bob's image

    Then the request is refused as a bad order
    And Alice's gallery order is unchanged
