# language: da
Egenskab: Samtykketeksten til trivselsoplysninger siger, hvad der behandles og hvorfor
  Projektbeskrivelsen (Trivselsdata): der skal foreligge et databeskyttelsesretligt samtykke
  efter artikel 6, stk. 1, litra a (almindelige personoplysninger), artikel 9, stk. 2,
  litra a (følsomme personoplysninger) og databeskyttelseslovens § 11 (cpr-nummer). Det er
  vigtigt, at det i teksten til samtykket fremgår, at der behandles både almindelige,
  fortrolige og følsomme personoplysninger.

  Baggrund:
    Givet den offentliggjorte danske samtykketekst til trivselsoplysninger, version v1

  Regel: Teksten nævner alle tre slags personoplysninger

    Abstrakt Scenario: Teksten nævner <slags> personoplysninger
      Så nævner teksten "<slags>" personoplysninger

      Eksempler:
        | slags       |
        | almindelige |
        | fortrolige  |
        | følsomme    |

  Regel: Teksten nævner alle tre retsgrundlag

    Abstrakt Scenario: Teksten nævner <retsgrundlag>
      Så nævner teksten retsgrundlaget "<retsgrundlag>"

      Eksempler:
        | retsgrundlag                                             |
        | databeskyttelsesforordningens artikel 6, stk. 1, litra a |
        | databeskyttelsesforordningens artikel 9, stk. 2, litra a |
        | databeskyttelseslovens § 11                              |

  Regel: Teksten fortæller om tilbagekaldelse, frivillighed og dataansvar

    Scenarie: Tilbagekaldelse og frivillighed
      Så indeholder teksten "til enhver tid tilbagekalde"
      Og teksten indeholder "personligt, på telefon eller med brev"
      Og teksten indeholder "Tilbuddet om en social navigatør afhænger ikke af, om du giver samtykke"
      Og teksten indeholder "Region Midtjylland, Skottenborg 26, 8800 Viborg"
      Og teksten indeholder "dpo@rm.dk"
      Og teksten indeholder "kun inden for den dataansvarlige myndighed"

    Scenarie: Teksten er den, der blev offentliggjort
      Så svarer tekstens SHA-256 til den, der er registreret som offentliggjort
      Og samtykketypen angiver de samme tre slags personoplysninger
